"""Stride-1 convolution with few channels, summed directly: the im2col matrix read in place, never built.

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

**Why.** im2col copies the input into a matrix C*kh*kw times its size (25 times for LeNet's
5x5 layers) and hands it to a GEMM, which copies it once more into its panels; for layers with
few channels those memory passes are most of the layer. Here the taps are read in place.

**How.** Each padded plane is walked as one flat run. With the plane flattened (row length
Wp), output pixel (p, q) sits at t = p*Wp + q and tap (c, i, j) reads plane_c[t + i*Wp + j]:
every tap is a fixed shift of one contiguous run of L = (OH-1)*Wp + OW positions, so the
forward is a matrix product y_run (O, L) = W (O, C*kh*kw) X (C*kh*kw, L) whose X, the im2col
matrix, is never built: row k of X is the input itself at tap k's shift. The products run on
``kernels/microkernel.py``'s register block, 4 output channels x 16 positions in vector
registers over all C*kh*kw taps, B's rows found through a table of the taps' shifts. The
weight sums are the transposed product, dW^T (C*kh*kw, O) = X (C*kh*kw, L) dy_run^T (L, O),
with A's rows (the taps) found through the same table and dy laid out in 16-channel panels
(``kernels/packed_gemm.py``'s layout), zeros at the positions q >= OW; the input gradient is
the forward over pad(dy). The positions with q >= OW straddle two rows: they are computed and
dropped on the way out. The last 16-position block of a plane reads up to 15 values past the
plane's end, so the padded input lives in a buffer with that much room after it (``pad``).

**Threads.** The batch splits over OpenBLAS's threads (``kernels/blas.run``), whole images
per share; each share sums its own dW, added up after. Where the shares cannot run there
(one thread, another ``run`` in flight, no usable OpenBLAS) the whole batch runs on the
calling thread: the same sums.

**No NumPy twin.** With ``GLASSNET_KERNELS=numpy`` the rule never picks this path (the GEMM
paths are the NumPy way to these sums), and its tests skip: the register block is compiled
code only.
"""
from __future__ import annotations

import numpy as np

from . import BACKEND, blas, jit
from .microkernel import PANEL, ROWS, address, block, block_row

# Measured through nn.Conv2d's forward and backward against the paths the other rules pick
# (Winograd, shifted rows, im2col), 2 threads (the README's benchmark section has the table):
# alone, the sums win on every layer tried with up to 32 input channels and lose to Winograd
# from 64 on. But a layer whose shares run on BLAS's threads just before layers in lanes leaves
# OpenBLAS's worker spinning beside them (``kernels/lanes.py``), and CIFAR's whole step was
# slower with its 3 -> 32 (or 32 -> 32) layers on the sums. So the sums take the layers no
# Winograd layer is near: at most 16 channels in and out.
MAX_CHANNELS = 16
_COMPILED_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def worth_it(C, O, kh, kw, stride, dilation, groups, pads, dtype=np.float32) -> bool:
    """Whether a layer takes the direct sums: the compiled backend and a dtype it computes in
    (float32, float64: Numba has no float16 arithmetic), stride 1, no dilation, one group,
    padding <= k - 1 (so dx is the forward over pad(dy)), and at most ``MAX_CHANNELS`` input
    and output channels."""
    top, bottom, left, right = pads
    return (BACKEND == "numba" and np.dtype(dtype) in _COMPILED_DTYPES
            and tuple(stride) == (1, 1) and tuple(dilation) == (1, 1) and groups == 1
            and max(C, O) <= MAX_CHANNELS and max(top, bottom) <= kh - 1 and max(left, right) <= kw - 1)


def pad(a, pads):
    """a (C, N, H, W) zero-padded by pads = (top, bottom, left, right): (C, N, Hp, Wp), C-contiguous,
    in a buffer with ``PANEL`` values of room after it (module docstring)."""
    top, bottom, left, right = pads
    C, N, H, W = a.shape
    Hp, Wp = H + top + bottom, W + left + right
    size = C * N * Hp * Wp
    out = np.zeros(size + PANEL, a.dtype)[:size].reshape(C, N, Hp, Wp)
    out[:, :, top:top + H, left:left + W] = a
    return out


def _has_room(xpad):
    """Whether xpad is C-contiguous with ``PANEL`` readable values after its end (``pad``'s)."""
    base = xpad.base
    while base is not None and base.base is not None:
        base = base.base
    return (xpad.flags.c_contiguous and base is not None
            and base.ctypes.data + base.nbytes >= xpad.ctypes.data + xpad.nbytes + PANEL * xpad.itemsize)


# ------------------------------------------------------------------------------ the sums
@jit(inline="always")
def _tap_shifts(C, kh, kw, plane, Wp):
    """shift[(c*kh + i)*kw + j] = c*plane + i*Wp + j: where tap (c, i, j) reads, from an
    image's first value (``plane``: the distance between two channels' planes)."""
    shifts = np.empty(C * kh * kw, np.int64)
    for c in range(C):
        for i in range(kh):
            for j in range(kw):
                shifts[(c * kh + i) * kw + j] = c * plane + i * Wp + j
    return shifts


@jit
def correlate(xpad, W, b, y, n0, n1):
    """y[o,n,p,q] = b[o] + sum_{c,i,j} W[o,c,i,j] xpad[c,n,p+i,q+j] for images n0 <= n < n1.

    xpad (C, N, Hp, Wp) from ``pad`` (room after it); W (O, C, kh, kw) C-contiguous; b (O,);
    y (O, N, OH, OW) with OH = Hp - kh + 1, OW = Wp - kw + 1."""
    C, N, Hp, Wp = xpad.shape
    O, _, kh, kw = W.shape
    OH, OW = y.shape[2], y.shape[3]
    K = C * kh * kw
    L = (OH - 1) * Wp + OW                 # the flat run covering every output pixel
    blocks = (L + PANEL - 1) // PANEL
    like = y.dtype.type(0)
    weights = W.reshape(O, K)
    taps = _tap_shifts(C, kh, kw, N * Hp * Wp, Wp)               # B's rows: the input at tap k's shift
    rows = np.arange(ROWS) * K                                    # A's rows: the weights, K apart
    bias = np.empty((O, PANEL), y.dtype)                          # each channel's bias, to start its sums
    for o in range(O):
        for t in range(PANEL):
            bias[o, t] = b[o]
    run = np.empty((O, blocks * PANEL), y.dtype)
    ld = blocks * PANEL
    whole = O - O % ROWS
    for n in range(n0, n1):
        for k in range(blocks):
            x_t = address(xpad, n * Hp * Wp + k * PANEL)          # positions t = 16k ... 16k + 15
            for o in range(0, whole, ROWS):                       # y_run[o:o+4, t] = b + W[o:o+4] X[:, t]
                block(address(weights, o * K), address(rows, 0), x_t, address(taps, 0), address(run, o * ld + k * PANEL), ld, K,
                      address(bias, o * PANEL), PANEL, True, like)
            for o in range(whole, O):
                block_row(address(weights, o * K), address(rows, 0), x_t, address(taps, 0), address(run, o * ld + k * PANEL), ld, K,
                          address(bias, o * PANEL), PANEL, True, like)
        for o in range(O):
            for p in range(OH):                                   # drop the positions q >= OW
                for q in range(OW):
                    y[o, n, p, q] = run[o, p * Wp + q]


@jit
def weight_sums(xpad, dy, dW, n0, n1):
    """dW[o,c,i,j] = sum_{n0 <= n < n1} sum_{p,q} dy[o,n,p,q] xpad[c,n,p+i,q+j], into dW (O, C, kh, kw).

    xpad (C, N, Hp, Wp) as ``correlate`` reads it; dy (O, N, OH, OW) C-contiguous."""
    C, N, Hp, Wp = xpad.shape
    O, _, kh, kw = dW.shape
    OH, OW = dy.shape[2], dy.shape[3]
    K = C * kh * kw
    L = (OH - 1) * Wp + OW
    like = dW.dtype.type(0)
    panels = (O + PANEL - 1) // PANEL
    ld = panels * PANEL
    taps = _tap_shifts(C, kh, kw, N * Hp * Wp, Wp)               # A's rows: the input at tap k's shift
    steps = np.arange(L) * PANEL                                  # B's rows: a dy panel's, 16 apart
    d = np.zeros((panels, L, PANEL), dW.dtype)                    # dy on the flat run, 16 channels a panel
    dW_T = np.zeros((K, ld), dW.dtype)
    whole = K - K % ROWS
    for n in range(n0, n1):
        for o in range(O):                                        # (zero at q >= OW and past channel O)
            for p in range(OH):
                for q in range(OW):
                    d[o // PANEL, p * Wp + q, o % PANEL] = dy[o, n, p, q]
        x_n = address(xpad, n * Hp * Wp)
        for g in range(panels):                                   # dW^T[k:k+4, g] += X[k:k+4, :] d_g
            d_g = address(d, g * L * PANEL)
            for k in range(0, whole, ROWS):
                out = address(dW_T, k * ld + g * PANEL)
                block(x_n, address(taps, k), d_g, address(steps, 0), out, ld, L, out, ld, True, like)
            for k in range(whole, K):
                out = address(dW_T, k * ld + g * PANEL)
                block_row(x_n, address(taps, k), d_g, address(steps, 0), out, ld, L, out, ld, True, like)
    for o in range(O):
        for c in range(C):
            for i in range(kh):
                for j in range(kw):
                    dW[o, c, i, j] = dW_T[(c * kh + i) * kw + j, o]


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
    if xpad.dtype != dtype or not _has_room(xpad):
        xpad = pad(xpad.astype(dtype, copy=False), (0, 0, 0, 0))
    W = np.ascontiguousarray(W, dtype)
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
    dypad = pad(dy, (kh - 1 - top, kh - 1 - bottom, kw - 1 - left, kw - 1 - right))
    W_flip = np.ascontiguousarray(W[:, :, ::-1, ::-1].transpose(1, 0, 2, 3))    # rot180(W), (C, O, kh, kw)
    return forward(dypad, W_flip, None, H, Wd, threads)
