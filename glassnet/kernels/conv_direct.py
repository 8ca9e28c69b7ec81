"""Stride-1 convolution with few channels, summed directly: no im2col matrix, no GEMM.

The textbook sums themselves (``functions/convolution.py`` derives them), for stride 1,
no dilation, one group, in the channel-major layout (``kernels/convolution.py``):

    forward   y[o,n,p,q]  = b[o] + sum_{c,i,j} W[o,c,i,j] xpad[c,n,p+i,q+j]        y  = W * x + b
    weights   dW[o,c,i,j] = sum_{n,p,q} dy[o,n,p,q] xpad[c,n,p+i,q+j]               dW = x * dy
    input     dx[c,n,h,w] = sum_{o,i,j} dypad[o,n,h+i,w+j] W[o,c,kh-1-i,kw-1-j]     dx = pad(dy) * rot180(W)

where dypad is dy padded by kh-1-top rows above and kh-1-bottom below (kw-1-left,
kw-1-right at the sides): the input gradient is the forward's sum run over pad(dy) with
rot180(W), its in and out channels swapped (so this path needs padding <= k - 1, as
"same" padding is). Checked against ``tests/functions/reference.py`` in
``tests/kernels/test_conv_direct.py``.

**Why.** A first layer's im2col matrix has few rows (C*kh*kw = 25 for LeNet's 1-channel 5x5)
and a column per output pixel, so its GEMM is a memory pass over a matrix 25 times the input,
and building it another. Summed directly, the input is read from L1 instead. With many
output channels the GEMM's reuse wins again (``worth_it`` has the measured rule).

**How.** Each padded plane is walked as one flat run. With the plane flattened (row length
Wp), output pixel (p, q) sits at t = p*Wp + q and offset (i, j) reads plane[t + i*Wp + j]:
every tap is the same shift of one contiguous run of L = (OH-1)*Wp + OW positions, so the
inner loop is a long axpy that LLVM vectorises. The positions with q >= OW straddle two
rows: they are computed and dropped on the way out, and the weight sums lay dy on the same
run with zeros there. A kernel row's kw taps are added in one pass (unrolled for kw = 3 and
5), so the run is loaded and stored once per kernel row, not once per tap; the weight sums'
kw running sums are split over vector lanes (reassociation, the one ``fastmath`` flag it
takes; the tests hold them to a sum's rounding bound).

**Threads.** The batch splits over OpenBLAS's threads (``kernels/blas.run``), whole images
per share; each share sums its own dW, added up after. Where the shares cannot run there
(one thread, another ``run`` in flight, no usable OpenBLAS) the whole batch runs on the
calling thread: the same sums.

**No NumPy twin.** With ``GLASSNET_KERNELS=numpy`` the rule never picks this path (the GEMM
paths are the NumPy way to these sums); the loops then run as plain Python, which only the
tests do.
"""
from __future__ import annotations

import numpy as np

from . import BACKEND, blas, jit

# Measured through nn.Conv2d's forward and backward against the GEMM paths, 2 threads (the
# README's benchmark section has the table): with up to 8 output channels the sums win on
# every layer tried (1, 3, 4, 6 and 8 input channels, 3x3 and 5x5); from 16 on they win or
# lose by the layer (LeNet's 6 -> 16 loses), and the GEMM's reuse of each loaded input
# across many output channels wins outright at 32.
MAX_OUT_CHANNELS = 8
KERNEL_WIDTHS = (3, 5)          # the widths whose taps are unrolled
_COMPILED_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def worth_it(C, O, kh, kw, stride, dilation, groups, pads, dtype=np.float32) -> bool:
    """Whether a layer takes the direct sums: the compiled backend and a dtype it computes in
    (float32, float64: Numba has no float16 arithmetic), stride 1, no dilation, one group,
    padding <= k - 1 (so dx is the forward over pad(dy)), an unrolled kernel width, and few
    output channels (``MAX_OUT_CHANNELS``)."""
    top, bottom, left, right = pads
    return (BACKEND == "numba" and np.dtype(dtype) in _COMPILED_DTYPES
            and tuple(stride) == (1, 1) and tuple(dilation) == (1, 1) and groups == 1
            and kw in KERNEL_WIDTHS and O <= MAX_OUT_CHANNELS
            and max(top, bottom) <= kh - 1 and max(left, right) <= kw - 1)


# ------------------------------------------------------------------------------ the sums
@jit(inline="always")
def _add_kernel_row(run, xs, w, L):
    """run[t] += sum_j w[j] xs[t + j] for t < L: one kernel row's taps in one pass."""
    kw = w.size
    if kw == 5:
        w0, w1, w2, w3, w4 = w[0], w[1], w[2], w[3], w[4]
        for t in range(L):
            run[t] += w0 * xs[t] + w1 * xs[t + 1] + w2 * xs[t + 2] + w3 * xs[t + 3] + w4 * xs[t + 4]
    elif kw == 3:
        w0, w1, w2 = w[0], w[1], w[2]
        for t in range(L):
            run[t] += w0 * xs[t] + w1 * xs[t + 1] + w2 * xs[t + 2]
    else:
        for j in range(kw):
            wj = w[j]
            for t in range(L):
                run[t] += wj * xs[t + j]


@jit
def correlate(xpad, W, b, y, n0, n1):
    """y[o,n,p,q] = b[o] + sum_{c,i,j} W[o,c,i,j] xpad[c,n,p+i,q+j] for images n0 <= n < n1.

    xpad (C, N, Hp, Wp) C-contiguous, already padded; W (O, C, kh, kw) C-contiguous; b (O,);
    y (O, N, OH, OW) with OH = Hp - kh + 1, OW = Wp - kw + 1."""
    C, N, Hp, Wp = xpad.shape
    O, _, kh, kw = W.shape
    OH, OW = y.shape[2], y.shape[3]
    L = (OH - 1) * Wp + OW                 # the flat run covering every output pixel
    run = np.empty((O, L), y.dtype)
    # copies as element loops: slice assignments cost Numba seconds more to compile (both
    # kernels took 10 s cold with them, 4 s without) for a few percent of run time
    for n in range(n0, n1):
        for o in range(O):
            bo = b[o]
            for t in range(L):
                run[o, t] = bo
        for c in range(C):
            plane = xpad[c, n].reshape(Hp * Wp)
            for i in range(kh):
                xs = plane[i * Wp:i * Wp + L + kw - 1]         # offset (i, 0); the row's taps shift it by j
                for o in range(O):
                    _add_kernel_row(run[o], xs, W[o, c, i], L)
        for o in range(O):
            for p in range(OH):                                 # drop the positions q >= OW
                for q in range(OW):
                    y[o, n, p, q] = run[o, p * Wp + q]


@jit(inline="always")
def _dot_kernel_row(d, xs, dw, L):
    """dw[j] += sum_t d[t] xs[t + j] for t < L: one kernel row's weight sums in one pass."""
    kw = dw.size
    zero = d.dtype.type(0)
    if kw == 5:
        s0 = s1 = s2 = s3 = s4 = zero
        for t in range(L):
            dt = d[t]
            s0 += dt * xs[t]
            s1 += dt * xs[t + 1]
            s2 += dt * xs[t + 2]
            s3 += dt * xs[t + 3]
            s4 += dt * xs[t + 4]
        dw[0] += s0
        dw[1] += s1
        dw[2] += s2
        dw[3] += s3
        dw[4] += s4
    elif kw == 3:
        s0 = s1 = s2 = zero
        for t in range(L):
            dt = d[t]
            s0 += dt * xs[t]
            s1 += dt * xs[t + 1]
            s2 += dt * xs[t + 2]
        dw[0] += s0
        dw[1] += s1
        dw[2] += s2
    else:
        for j in range(kw):
            s = zero
            for t in range(L):
                s += d[t] * xs[t + j]
            dw[j] += s


@jit(fastmath={"reassoc"})
def weight_sums(xpad, dy, dW, n0, n1):
    """dW[o,c,i,j] = sum_{n0 <= n < n1} sum_{p,q} dy[o,n,p,q] xpad[c,n,p+i,q+j], into dW (O, C, kh, kw).

    xpad (C, N, Hp, Wp) as ``correlate`` reads it; dy (O, N, OH, OW) C-contiguous."""
    C, N, Hp, Wp = xpad.shape
    O, _, kh, kw = dW.shape
    OH, OW = dy.shape[2], dy.shape[3]
    L = (OH - 1) * Wp + OW
    d = np.zeros(L, dy.dtype)              # dy on the flat run; zero at the positions q >= OW
    for o in range(O):
        for c in range(C):
            for i in range(kh):
                for j in range(kw):
                    dW[o, c, i, j] = 0
    for n in range(n0, n1):
        for o in range(O):
            for p in range(OH):
                for q in range(OW):
                    d[p * Wp + q] = dy[o, n, p, q]
            for c in range(C):
                plane = xpad[c, n].reshape(Hp * Wp)
                for i in range(kh):
                    _dot_kernel_row(d, plane[i * Wp:i * Wp + L + kw - 1], dW[o, c, i], L)


# ------------------------------------------------------------------ the batch over threads
def _shares(N, lanes):
    """Image ranges (n0, n1) of ``lanes`` shares of a batch of N: as equal as whole images allow."""
    bounds = [N * k // lanes for k in range(lanes + 1)]
    return list(zip(bounds[:-1], bounds[1:]))


def _lanes(N, threads):
    return max(1, min(threads, N, blas.available())) if N > 1 else 1


def forward(xpad, W, b, OH, OW, threads):
    """y (O, N, OH, OW) = W * xpad + b over ``threads`` shares of the batch (b may be None)."""
    O, N = W.shape[0], xpad.shape[1]
    dtype = np.result_type(xpad, W)
    y = np.empty((O, N, OH, OW), dtype)
    xpad, W = np.ascontiguousarray(xpad, dtype), np.ascontiguousarray(W, dtype)
    b = np.zeros(O, dtype) if b is None else np.ascontiguousarray(b, dtype)
    shares = _shares(N, _lanes(N, threads))

    def share(k, barrier):
        correlate(xpad, W, b, y, *shares[k])

    if not blas.run(share, len(shares)):
        correlate(xpad, W, b, y, 0, N)
    return y


def weight_grad(xpad, dy, W_shape, threads):
    """dW = x * dy, (O, C, kh, kw), from the padded input the forward read and dy (O, N, OH, OW)."""
    N = xpad.shape[1]
    dy = np.ascontiguousarray(dy, np.result_type(xpad, dy))
    xpad = np.ascontiguousarray(xpad, dy.dtype)
    shares = _shares(N, _lanes(N, threads))
    parts = np.empty((len(shares),) + tuple(W_shape), dy.dtype)

    def share(k, barrier):
        weight_sums(xpad, dy, parts[k], *shares[k])

    if not blas.run(share, len(shares)):
        parts = parts[:1]
        weight_sums(xpad, dy, parts[0], 0, N)
    return parts[0] if len(parts) == 1 else parts.sum(axis=0)


def input_grad(dy, W, pads, threads):
    """dx = pad(dy) * rot180(W), cropped: (C, N, H, W) channel-major, from dy (O, N, OH, OW).

    dy padded by k - 1 - (the forward's padding) on each side, summed by ``correlate`` with
    rot180(W), in and out channels swapped: dx[c,n,h,w] = sum_{o,i,j} dypad[o,n,h+i,w+j] Wflip[c,o,i,j]."""
    O, C, kh, kw = W.shape
    top, bottom, left, right = pads
    N, OH, OW = dy.shape[1:]
    H, Wd = OH + kh - 1 - top - bottom, OW + kw - 1 - left - right
    dypad = np.zeros((O, N, OH + 2 * kh - 2 - top - bottom, OW + 2 * kw - 2 - left - right), dy.dtype)
    dypad[:, :, kh - 1 - top:kh - 1 - top + OH, kw - 1 - left:kw - 1 - left + OW] = dy
    W_flip = np.ascontiguousarray(W[:, :, ::-1, ::-1].transpose(1, 0, 2, 3))    # rot180(W), (C, O, kh, kw)
    return forward(dypad, W_flip, None, H, Wd, threads)
