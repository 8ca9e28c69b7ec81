"""Stride-1 convolution as shifted contiguous rows: kh + kw copies instead of im2col's kh * kw.

The same sums as ``functions/convolution.py`` (same notes, same derivation), laid out so that every
copy and every add NumPy does is one long contiguous run. Flatten the padded input per
channel in the layout (C, Hp, N, Wp): position (h, n, w) sits at g = h*R + n*Wp + w with
R = N*Wp (one padded row of every sample). For stride 1, kernel offset (i, j) then moves
every output pixel by the same constant i*dh*R + j*dw, and the outputs live on the same
grid, q = oh*R + n*Wp + ow, computed for every w < Wp (the columns w >= OW are garbage
in the forward pass, cropped off, and zero in dy in the backward pass).

Forward, y[o, q] = b[o] + sum_{c,i,j} W[o,c,i,j] x[c, q + i*dh*R + j*dw], split as

    X[(c, i), q] = x[c, q + i*dh*R]                            kh row-shifted copies of x
    Z[(j, o), q] = sum_{c,i} W[o,c,i,j] X[(c, i), q]            one GEMM, K = C*kh
    y[o, q]      = sum_j Z[(j, o), q + j*dw]                    kw shifted adds

Backward, with dy spread over the (OH, N, Wp) grid:

    E[(o, j), q] = dy[o, q - j*dw]                              kw shifted copies of dy
    dW[o,c,i,j]  = sum_q E[(o, j), q] X[(c, i), q]              one GEMM over the long axis q
    P[(i, c), q] = sum_{o,j} W[o,c,i,j] E[(o, j), q]            one GEMM, K = O*kw
    dx[c, q + i*dh*R] += P[(i, c), q]                           kh shifted adds

(dW is x * dy, dx is pad(dy) * rot180(W), term by term, as ``functions/convolution.py``
derives them; checked in ``tests/kernels/test_convolution_kernels.py``.) The zeros keep it
exact: a real output pixel's window never leaves its padded row (ow + j*dw < Wp), and the
shifts that wrap into the next sample's row move only the zero columns w >= OW. The
matrices written have C*kh + O*kw rows instead of C*kh*kw, so ``kernels.convolution``
takes this path when that is fewer (every layer past a 1- or 3-channel input). Output
rows go through in blocks of about ``kernels.convolution.CHUNK_BYTES``.
"""
from __future__ import annotations

from ..backend import xp


def worth_it(C, O, kh, kw, stride, N) -> bool:
    """Whether this path writes no more rows than im2col (and applies: stride 1, a batch);
    at equal rows it still wins, its copies being contiguous (measured on the CIFAR 32 -> 64 layer)."""
    return tuple(stride) == (1, 1) and N > 0 and C * kh + O * kw <= C * kh * kw


def _blocks(OH, rows_per_output_row, R, itemsize, chunk_bytes):
    """(r0, n) blocks of output rows whose work matrices are about chunk_bytes."""
    per_row = max(rows_per_output_row * R * itemsize, 1)
    step = max(1, chunk_bytes // per_row)
    return [(r0, min(OH, r0 + step) - r0) for r0 in range(0, OH, step)]


def padded_rows(x, pads, tail):
    """x (N, C, H, W) -> (C, Hp*N*Wp + tail): the padded input in the (C, Hp, N, Wp) layout."""
    N, C, H, W = x.shape
    top, bottom, left, right = pads
    Hp, Wp = H + top + bottom, W + left + right
    # zeros first, one contiguous pass: cheaper than zeroing the thin left/right borders
    xt = (xp.zeros if top or bottom or left or right else xp.empty)((C, Hp * N * Wp + tail), x.dtype)
    xt[:, Hp * N * Wp:] = 0
    planes = xt[:, :Hp * N * Wp].reshape(C, Hp, N, Wp)
    planes[:, top:top + H, :, left:left + W] = x.transpose(1, 2, 0, 3)
    return xt


def _row_shifts(xg, X, r0, span, tail, kh, dh, R):
    """X[g, c, i] = x[g, c, q + (r0 + i*dh)*R] for the block's q: kh contiguous copies."""
    for i in range(kh):
        s = (r0 + i * dh) * R
        X[:, :, i] = xg[:, :, s:s + span + tail]
    return X.reshape(X.shape[0], -1, X.shape[-1])            # (G, Cg*kh, span + tail)


def forward(x, Wm, b, geometry, chunk_bytes):
    """y (O, N, OH, OW) channel-major, and the padded rows xt the backward pass reads."""
    (N, C, H, Wd), (O, Cg, kh, kw), G, pads, _, (dh, dw), (OH, OW) = geometry
    Wp = Wd + pads[2] + pads[3]
    R, tail = N * Wp, (kw - 1) * dw
    xt = padded_rows(x, pads, tail)
    xg = xt.reshape(G, Cg, -1)
    # Wz[g, (j, o), (c, i)] = W[o, c, i, j] within group g
    Wz = Wm.reshape(G, O // G, Cg, kh, kw).transpose(0, 4, 1, 2, 3).reshape(G, kw * (O // G), Cg * kh)
    y = xp.empty((O, N, OH, OW), xp.result_type(x, Wm))
    yg = y.reshape(G, O // G, N, OH, OW)
    bias = None if b is None else b.reshape(G, O // G, 1, 1, 1)
    X = None
    for r0, n in _blocks(OH, C * kh + O * kw, R, x.itemsize, chunk_bytes):
        span = n * R
        if X is None or X.shape[-1] != span + tail:
            X = xp.empty((G, Cg, kh, span + tail), x.dtype)
        Z = xp.matmul(Wz, _row_shifts(xg, X, r0, span, tail, kh, dh, R)).reshape(G, kw, O // G, -1)
        acc = Z[:, 0, :, :span]
        for j in range(1, kw):
            acc += Z[:, j, :, j * dw:j * dw + span]
        # crop the garbage columns w >= OW while moving to the (O, N, OH, OW) result
        grid = acc.reshape(G, O // G, n, N, Wp)[..., :OW].transpose(0, 1, 3, 2, 4)
        out = yg[:, :, :, r0:r0 + n]
        if bias is None:
            out[...] = grid
        else:
            xp.add(grid, bias, out=out)
    return y, xt


def backward(dyc, xt, Wm, geometry, need_x, need_W, chunk_bytes):
    """(dx (N, C, H, W) or None, dW (O, Cg, kh, kw) or None) from dyc (O, N, OH, OW) contiguous."""
    (N, C, H, Wd), (O, Cg, kh, kw), G, (top, bottom, left, right), _, (dh, dw), (OH, OW) = geometry
    Hp, Wp = H + top + bottom, Wd + left + right
    R, tail = N * Wp, (kw - 1) * dw
    dtype = dyc.dtype
    dW5 = xp.zeros((G, O // G, Cg, kh, kw), dtype) if need_W else None
    xg = xt.reshape(G, Cg, -1) if need_W else None
    if need_x:
        # Wt[g, (i, c), (o, j)] = W[o, c, i, j] within group g
        Wt = Wm.reshape(G, O // G, Cg, kh, kw).transpose(0, 3, 2, 1, 4).reshape(G, kh * Cg, -1)
        dxt = xp.zeros((G, Cg, Hp * R + tail), dtype)
    E = X = None
    for r0, n in _blocks(OH, O * kw + C * kh, R, dyc.itemsize, chunk_bytes):
        span = n * R
        if E is None or E.shape[-1] != span + tail:
            E = xp.empty((O, kw, span + tail), dtype)
            for j in range(kw):                                 # the edges outside the shifts are 0
                E[:, j, :j * dw] = 0
                E[:, j, j * dw + span:] = 0
        grid = E[:, 0, :span].reshape(O, n, N, Wp)
        grid[..., :OW] = dyc[:, :, r0:r0 + n].transpose(0, 2, 1, 3)
        grid[..., OW:] = 0
        for j in range(1, kw):
            E[:, j, j * dw:j * dw + span] = E[:, 0, :span]
        Eg = E.reshape(G, O // G * kw, -1)
        if need_W:               # the forward's row-shifted copies, rebuilt (cheap) rather than kept
            if X is None or X.shape[-1] != span + tail:
                X = xp.empty((G, Cg, kh, span + tail), dtype)
            Xg = _row_shifts(xg, X, r0, span, tail, kh, dh, R)
            part = xp.matmul(Eg, Xg.transpose(0, 2, 1))        # (G, (o, j), (c, i))
            dW5 += part.reshape(G, O // G, kw, Cg, kh).transpose(0, 1, 3, 4, 2)
        if need_x:
            P = xp.matmul(Wt, Eg).reshape(G, kh, Cg, -1)
            for i in range(kh):
                s = (r0 + i * dh) * R
                dxt[:, :, s:s + span + tail] += P[:, i]
    dx = None
    if need_x:
        dxc = xp.empty((C, N, H, Wd), dtype)                     # channel-major, like the input's copy
        planes = dxt.reshape(C, -1)[:, :Hp * R].reshape(C, Hp, N, Wp)
        dxc[...] = planes[:, top:top + H, :, left:left + Wd].transpose(0, 2, 1, 3)
        dx = dxc.transpose(1, 0, 2, 3)
    return dx, None if dW5 is None else dW5.reshape(O, Cg, kh, kw)
