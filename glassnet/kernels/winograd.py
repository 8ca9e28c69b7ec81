"""3x3 stride-1 convolution by Winograd's minimal filtering F(2x2, 3x3): 16 products per 2x2 outputs, not 36.

The math is the same cross-correlation as ``functions/convolution.py`` (y = W * x + b,
dW = x * dy, dx = pad(dy) * rot180(W)), checked against ``tests/functions/reference.py``'s
``conv2d_by_windows``, ``conv2d_weight_grad_by_windows`` and ``conv2d_input_grad_full`` in
``tests/kernels/test_winograd.py``. Cut the padded input into 4x4 tiles d that overlap by two
(tile (th, tw) starts at padded pixel (2th, 2tw)); each gives a 2x2 block of outputs. With

    B^T = [[1, 0, -1,  0],      G = [[ 1,    0,   0 ],      A^T = [[1, 1,  1,  0],
           [0, 1,  1,  0],           [1/2,  1/2, 1/2],             [0, 1, -1, -1]]
           [0, -1, 1,  0],           [1/2, -1/2, 1/2],
           [0, 1,  0, -1]]           [ 0,    0,   1 ]]

one tile's 2x2 outputs for output channel k are (Lavin & Gray 2016, "Fast Algorithms for
Convolutional Neural Networks")

    Y[k] = A^T [ sum_c (G W[k,c] G^T) (.) (B^T d[c] B) ] A          ((.) element-wise, 4x4)

which is exactly sum_{c,i,j} W[k,c,i,j] d[c, a+i, b+j] for the four outputs (a, b) (expand
the products: every term appears once). Write U[xi] = (G W G^T)[xi] (K x C) and
V[xi] = (B^T d B)[xi] (C x tiles) for each of the 16 positions xi of a 4x4 tile: the sum over
c is then 16 matrix products M[xi] = U[xi] @ V[xi], which BLAS runs, and the transforms
(B^T d B per input tile, A^T M A per output tile) are additions only, run here in compiled
loops. 16 products per 4 outputs instead of 9 * 4 = 36 direct ones: 2.25x fewer.

The backward pass is the adjoint of those three steps (as ``kernels.convolution`` computes dx
as the adjoint of the forward's copies, the same sums term by term):

    dM[xi] = (A dY A^T)[xi]        each 2x2 block of dy spread over a 4x4 tile
    dW     = G^T [ sum_tiles dM[xi] @ V[xi]^T ] G                        = x * dy
    dV[xi] = U[xi]^T @ dM[xi],  dd = B dV B^T, added back where tile d was read from
                                                                         = pad(dy) * rot180(W)

so dW needs the forward's V (rebuilt from x, which the layer keeps anyway) and dx reuses dM.

Layout: V, M, dM and dV are (16, channels, tiles), tiles ordered (n, th, tw), so each of the
16 products is one contiguous GEMM over a block of whole images; the blocks are sized by
``BLOCK_BYTES`` so the expanded (4x the input) tile matrices stay in cache and are never
held whole. Outputs y and the input gradient are channel-major (C, N, H, W) arrays, as every
convolution path returns them (``kernels/convolution.py``'s layout rules); x is read as image
planes in whatever order it is stored (``kernels.layout``).

Every transform exists twice: a compiled loop (tile rows as contiguous vectors) and a NumPy
twin on strided views. ``kernels.convolution`` chooses this path only where it measured
faster (:func:`worth_it`).
"""
from __future__ import annotations

from ..backend import xp
from . import BACKEND, jit, pick
from ..threads import get_num_threads, lanes_allowed, use_lanes
from .lanes import run as lanes_run, shares

# Bytes of one block's largest tile matrix (16 x channels x tiles). Whole images per block.
# Each block makes 16 BLAS calls per product, and with two BLAS threads every call is a
# synchronisation, and on a busy machine small blocks made a CIFAR step much slower than the
# whole batch in one. 16 MB keeps the calls few (a CIFAR-sized 32-channel layer in two
# blocks) and the peak memory below the shifted-rows path's, which keeps a padded copy of x.
BLOCK_BYTES = 1 << 24

# The fewest input and output channels for which :func:`worth_it` takes this path (the
# measured break-even is at 16; see there).
MIN_CHANNELS = 32

# G and its use: U = G W G^T (4x4 from 3x3); dW = G^T dU G.
_G = ((1.0, 0.0, 0.0), (0.5, 0.5, 0.5), (0.5, -0.5, 0.5), (0.0, 0.0, 1.0))


def applies(kernel, stride, dilation, groups, pads):
    """Whether the layer is one F(2x2, 3x3) covers: 3x3, stride 1, no dilation, one group,
    padding at most 2 on each side (the tiles then cover every output)."""
    return (tuple(kernel) == (3, 3) and tuple(stride) == (1, 1) and tuple(dilation) == (1, 1)
            and groups == 1 and all(0 <= p <= 2 for p in pads))


def worth_it(C, O, kernel, stride, dilation, groups, pads, N, backend=None, threads=None):
    """Whether :class:`kernels.convolution.Conv2dSteps` should take this path.

    Only with the compiled transforms: the NumPy twins make a strided pass per tile position
    and lose to the shifted-rows GEMMs. Only with at least 32 input and 32 output
    channels: the 16 GEMMs have C (forward, dW) and K (dx) as their inner dimension, and the
    transforms cost the same per pixel whatever the channel count, so the 2.25x fewer products
    pay only on enough channels (against the shifted rows it measured clearly faster from 32
    channels, about even at 16 and slower at 8: the README's benchmark section has the figures).

    On several threads (``threads``, by default ``glassnet.get_num_threads()``) the layer runs in
    lanes, whole images per lane (``kernels/lanes.py``): the tile transforms are serial loops,
    and beside BLAS threads they were the part that did not speed up (the cifar_cnn step was
    slower than on the shifted rows), while in lanes they run on every core. So it needs at
    least one image per lane (a smaller batch takes the shifted rows on BLAS threads), and
    lanes at all (``threads.lanes_allowed``: not while recurrent layers in the same model
    keep BLAS threads busy).
    """
    backend = BACKEND if backend is None else backend
    if not (backend == "numba" and N > 0 and min(C, O) >= MIN_CHANNELS
            and applies(kernel, stride, dilation, groups, pads)):
        return False
    if threads is None:
        threads = get_num_threads()
        if threads > 1 and not lanes_allowed():
            return False
    return N >= threads


def tiles(OH, OW):
    """(TH, TW): tile rows and columns covering an OH x OW output (the last may be half used)."""
    return (OH + 1) // 2, (OW + 1) // 2


def _GG(dtype):
    """G (x) G (16 x 9): vec(G w G^T) = (G (x) G) vec(w) for a 3x3 w, row-major vec."""
    G = xp.asarray(_G, dtype)
    return xp.kron(G, G)


def filter_transform(W):
    """U (16, K, C) = G W[k, c] G^T for every kernel, 4x4 positions flattened: one
    (16 x 9) @ (9 x K*C) product."""
    K, C = W.shape[:2]
    return (_GG(W.dtype) @ W.reshape(K * C, 9).T).reshape(16, K, C)


def filter_transform_adjoint(dU):
    """dW (K, C, 3, 3) = G^T dU G: the weight gradient from the Winograd-domain one."""
    K, C = dU.shape[1:]
    return xp.ascontiguousarray((_GG(dU.dtype).T @ dU.reshape(16, K * C)).T).reshape(K, C, 3, 3)


def images_per_block(N, channels, TH, TW, itemsize, lanes=1):
    """Whole images per block so that a (16, channels, tiles) matrix is about BLOCK_BYTES / lanes."""
    per_image = 16 * max(channels, 1) * TH * TW * itemsize
    return max(1, min(N, BLOCK_BYTES // max(lanes, 1) // max(per_image, 1)))


# -- input tiles: V = B^T d B ----------------------------------------------------------------------
@jit
def input_tiles_compiled(planes, sc, sn, n0, n1, top, left, TH, TW, V):
    """V[xi, c, t] = (B^T d B)[xi] for the tiles t = (n - n0, th, tw) of images n0..n1-1,
    d the 4x4 window of the zero-padded plane c*sc + n*sn at (2th - top, 2tw - left).

    B^T d B is done as B^T along each padded row first (once per row, though every row
    belongs to two tile rows), then down the columns; every loop a contiguous run."""
    C = V.shape[1]
    H, W = planes.shape[1], planes.shape[2]
    Hs, Wt = 2 * TH + 2, 2 * TW + 2
    zero = planes.dtype.type(0)
    row = xp.zeros(Wt, planes.dtype)                  # one padded input row
    Hr = xp.zeros((Hs, 4, TW), planes.dtype)          # Hr[r, b, tw] = (d_row B)[b] of tile column tw
    for c in range(C):
        for n in range(n0, n1):
            plane = planes[c * sc + n * sn]
            for r in range(Hs):
                h = r - top
                hr = Hr[r]
                if 0 <= h < H:
                    src = plane[h]
                    for w in range(W):
                        row[left + w] = src[w]
                    h0, h1, h2, h3 = hr[0], hr[1], hr[2], hr[3]
                    for tw in range(TW):
                        h0[tw] = row[2 * tw] - row[2 * tw + 2]
                    for tw in range(TW):
                        h1[tw] = row[2 * tw + 1] + row[2 * tw + 2]
                    for tw in range(TW):
                        h2[tw] = row[2 * tw + 2] - row[2 * tw + 1]
                    for tw in range(TW):
                        h3[tw] = row[2 * tw + 1] - row[2 * tw + 3]
                else:
                    hr[:] = zero
            for th in range(TH):
                base = ((n - n0) * TH + th) * TW
                r0, r1, r2, r3 = Hr[2 * th], Hr[2 * th + 1], Hr[2 * th + 2], Hr[2 * th + 3]
                for b in range(4):
                    x0, x1, x2, x3 = r0[b], r1[b], r2[b], r3[b]
                    v = V[b, c, base:base + TW]
                    for tw in range(TW):
                        v[tw] = x0[tw] - x2[tw]
                    v = V[4 + b, c, base:base + TW]
                    for tw in range(TW):
                        v[tw] = x1[tw] + x2[tw]
                    v = V[8 + b, c, base:base + TW]
                    for tw in range(TW):
                        v[tw] = x2[tw] - x1[tw]
                    v = V[12 + b, c, base:base + TW]
                    for tw in range(TW):
                        v[tw] = x1[tw] - x3[tw]


def input_tiles_numpy(planes, sc, sn, n0, n1, top, left, TH, TW, V):
    C = V.shape[1]
    H, W = planes.shape[1:]
    idx = (xp.arange(C)[:, None] * sc + xp.arange(n0, n1)[None, :] * sn).reshape(-1)
    d = xp.zeros((C * (n1 - n0), 2 * TH + 2, 2 * TW + 2), planes.dtype)
    hh, ww = min(H, 2 * TH + 2 - top), min(W, 2 * TW + 2 - left)
    d[:, top:top + hh, left:left + ww] = planes[idx, :hh, :ww]
    r = [d[:, a:a + 2 * TH:2] for a in range(4)]                       # row a of every tile row
    t = [r[0] - r[2], r[1] + r[2], r[2] - r[1], r[1] - r[3]]
    out = V.reshape(4, 4, C, n1 - n0, TH, TW)
    for a in range(4):
        s = [t[a][:, :, b:b + 2 * TW:2].reshape(C, n1 - n0, TH, TW) for b in range(4)]
        out[a, 0], out[a, 1], out[a, 2], out[a, 3] = s[0] - s[2], s[1] + s[2], s[2] - s[1], s[1] - s[3]


# -- output tiles: Y = A^T M A (+ b) -------------------------------------------------------------
@jit
def output_tiles_compiled(M, y, n0, TH, TW, bias):
    """y[k, n0 + n, 2th + a, 2tw + b] = (A^T M[:, k, t] A)[a, b] + bias[k] for the block's tiles
    t = (n, th, tw), cropped to y's (OH, OW); y is (K, N, OH, OW)."""
    K, nb = M.shape[1], M.shape[2] // (TH * TW)
    OH, OW = y.shape[2], y.shape[3]
    s = xp.empty((8, TW), M.dtype)
    ev = xp.empty(TW, M.dtype); od = xp.empty(TW, M.dtype)
    half = OW // 2
    for k in range(K):
        bk = bias[k]
        for n in range(nb):
            for th in range(TH):
                base = (n * TH + th) * TW
                for b in range(4):
                    m0, m1, m2, m3 = M[b, k, base:base + TW], M[4 + b, k, base:base + TW], M[8 + b, k, base:base + TW], M[12 + b, k, base:base + TW]
                    s0 = s[b]
                    for tw in range(TW):
                        s0[tw] = m0[tw] + m1[tw] + m2[tw]
                    s1 = s[4 + b]
                    for tw in range(TW):
                        s1[tw] = m1[tw] - m2[tw] - m3[tw]
                for a in range(2):
                    h = 2 * th + a
                    if h < OH:
                        p0, p1, p2, p3 = s[4 * a], s[4 * a + 1], s[4 * a + 2], s[4 * a + 3]
                        for tw in range(TW):
                            ev[tw] = p0[tw] + p1[tw] + p2[tw] + bk
                        for tw in range(TW):
                            od[tw] = p1[tw] - p2[tw] - p3[tw] + bk
                        row = y[k, n0 + n, h]
                        for tw in range(half):
                            row[2 * tw] = ev[tw]
                            row[2 * tw + 1] = od[tw]
                        if OW % 2:
                            row[2 * half] = ev[half]


def output_tiles_numpy(M, y, n0, TH, TW, bias):
    K, nb = M.shape[1], M.shape[2] // (TH * TW)
    OH, OW = y.shape[2:]
    m = M.reshape(4, 4, K, nb, TH, TW)
    s = [m[0] + m[1] + m[2], m[1] - m[2] - m[3]]                      # A^T down the columns
    out = xp.empty((K, nb, TH, 2, TW, 2), M.dtype)
    for a in range(2):
        out[:, :, :, a, :, 0] = s[a][0] + s[a][1] + s[a][2]
        out[:, :, :, a, :, 1] = s[a][1] - s[a][2] - s[a][3]
    y[:, n0:n0 + nb] = out.reshape(K, nb, 2 * TH, 2 * TW)[:, :, :OH, :OW] + bias.reshape(K, 1, 1, 1)


# -- output-gradient tiles: dM = A dY A^T --------------------------------------------------------
@jit
def grad_tiles_compiled(dy, n0, n1, TH, TW, dM):
    """dM[xi, k, t] = (A dY A^T)[xi] for the tiles t of images n0..n1-1, dY the tile's 2x2 block
    of dy (K, N, OH, OW), zero past the output's edge."""
    K = dy.shape[0]
    OH, OW = dy.shape[2], dy.shape[3]
    zero = dy.dtype.type(0)
    r = xp.zeros((2, 2 * TW), dy.dtype)
    q = xp.empty((4, 2 * TW), dy.dtype)
    for k in range(K):
        for n in range(n0, n1):
            for th in range(TH):
                for i in range(2):
                    h = 2 * th + i
                    ri = r[i]
                    if h < OH:
                        src = dy[k, n, h]
                        for w in range(OW):
                            ri[w] = src[w]
                    else:
                        for w in range(OW):
                            ri[w] = zero
                r0, r1 = r[0], r[1]
                q0, q1, q2, q3 = q[0], q[1], q[2], q[3]
                for w in range(2 * TW):
                    q0[w] = r0[w]
                    q1[w] = r0[w] + r1[w]
                    q2[w] = r0[w] - r1[w]
                    q3[w] = -r1[w]
                base = ((n - n0) * TH + th) * TW
                for a in range(4):
                    qa = q[a]
                    e0, e1, e2, e3 = dM[4 * a, k], dM[4 * a + 1, k], dM[4 * a + 2, k], dM[4 * a + 3, k]
                    for tw in range(TW):
                        x0 = qa[2 * tw]
                        x1 = qa[2 * tw + 1]
                        e0[base + tw] = x0
                        e1[base + tw] = x0 + x1
                        e2[base + tw] = x0 - x1
                        e3[base + tw] = -x1


def grad_tiles_numpy(dy, n0, n1, TH, TW, dM):
    K, _, OH, OW = dy.shape
    e = xp.zeros((K, n1 - n0, 2 * TH, 2 * TW), dy.dtype)
    e[:, :, :OH, :OW] = dy[:, n0:n1]
    r = [e[:, :, 0::2], e[:, :, 1::2]]
    q = [r[0], r[0] + r[1], r[0] - r[1], -r[1]]
    out = dM.reshape(4, 4, K, n1 - n0, TH, TW)
    for a in range(4):
        c0, c1 = q[a][..., 0::2], q[a][..., 1::2]
        out[a, 0], out[a, 1], out[a, 2], out[a, 3] = c0, c0 + c1, c0 - c1, -c1


# -- input-gradient tiles: dd = B dV B^T, added back where d was read -----------------------------
@jit
def input_grad_tiles_compiled(dV, dx, n0, top, left, TH, TW):
    """dx[c, n0 + n] = the sum over the block's tiles of B dV[:, c, t] B^T, each 4x4 result added
    at the tile's place in the padded plane (tiles overlap by two), the padding cropped off.
    dx is (C, N, H, W); its planes n0.. are overwritten. The adjoint of input_tiles_compiled's
    two steps in reverse order: down the columns into per-row sums, then along each row."""
    C, nb = dV.shape[1], dV.shape[2] // (TH * TW)
    H, W = dx.shape[2], dx.shape[3]
    Hs, Wt = 2 * TH + 2, 2 * TW + 2
    zero = dV.dtype.type(0)
    G = xp.empty((Hs, 4, TW), dV.dtype)     # gradient of the row transforms Hr
    ev = xp.empty(TW + 1, dV.dtype); od = xp.empty(TW + 1, dV.dtype); row = xp.empty(Wt, dV.dtype)
    for c in range(C):
        for n in range(nb):
            G[:] = zero
            for th in range(TH):
                base = (n * TH + th) * TW
                g0, g1, g2, g3 = G[2 * th], G[2 * th + 1], G[2 * th + 2], G[2 * th + 3]
                for b in range(4):
                    v0, v1, v2, v3 = dV[b, c, base:base + TW], dV[4 + b, c, base:base + TW], dV[8 + b, c, base:base + TW], dV[12 + b, c, base:base + TW]
                    x = g0[b]
                    for tw in range(TW):
                        x[tw] += v0[tw]
                    x = g1[b]
                    for tw in range(TW):
                        x[tw] += v1[tw] - v2[tw] + v3[tw]
                    x = g2[b]
                    for tw in range(TW):
                        x[tw] += v2[tw] + v1[tw] - v0[tw]
                    x = g3[b]
                    for tw in range(TW):
                        x[tw] -= v3[tw]
            plane = dx[c, n0 + n]
            for h in range(H):
                gr = G[h + top]
                q0, q1, q2, q3 = gr[0], gr[1], gr[2], gr[3]
                # row[2m] = q0[m] + (-q0+q1+q2)[m-1]; row[2m+1] = (q1-q2+q3)[m] - q3[m-1]
                ev[0] = q0[0]
                od[0] = q1[0] - q2[0] + q3[0]
                for m in range(1, TW):
                    ev[m] = q0[m] - q0[m - 1] + q1[m - 1] + q2[m - 1]
                for m in range(1, TW):
                    od[m] = q1[m] - q2[m] + q3[m] - q3[m - 1]
                ev[TW] = q1[TW - 1] + q2[TW - 1] - q0[TW - 1]
                od[TW] = -q3[TW - 1]
                for m in range(TW + 1):
                    row[2 * m] = ev[m]
                    row[2 * m + 1] = od[m]
                dst = plane[h]
                for w in range(W):
                    dst[w] = row[w + left]


def input_grad_tiles_numpy(dV, dx, n0, top, left, TH, TW):
    C, nb = dV.shape[1], dV.shape[2] // (TH * TW)
    H, W = dx.shape[2:]
    v = dV.reshape(4, 4, C, nb, TH, TW)
    # B^T's adjoint along the rows of each tile: u[a][..., b] for the tile's 4 columns
    u = [(v[a, 0], v[a, 1] - v[a, 2] + v[a, 3], -v[a, 0] + v[a, 1] + v[a, 2], -v[a, 3]) for a in range(4)]
    # and down its columns: rows 0..3 of every 4x4 tile
    d = [tuple(u[0][b] for b in range(4)),
         tuple(u[1][b] - u[2][b] + u[3][b] for b in range(4)),
         tuple(-u[0][b] + u[1][b] + u[2][b] for b in range(4)),
         tuple(-u[3][b] for b in range(4))]
    acc = xp.zeros((C, nb, 2 * TH + 2, 2 * TW + 2), dV.dtype)
    for a in range(4):
        for b in range(4):
            acc[:, :, a:a + 2 * TH:2, b:b + 2 * TW:2] += d[a][b]
    dx[:, n0:n0 + nb] = acc[:, :, top:top + H, left:left + W]


input_tiles = pick(input_tiles_compiled, input_tiles_numpy)
output_tiles = pick(output_tiles_compiled, output_tiles_numpy)
grad_tiles = pick(grad_tiles_compiled, grad_tiles_numpy)
input_grad_tiles = pick(input_grad_tiles_compiled, input_grad_tiles_numpy)


# -- the three passes ---------------------------------------------------------------------------
def _planes(x):
    """(planes (P, H, W), sc, sn): plane of (n, c) is c*sc + n*sn, in x's memory order."""
    N, C = x.shape[:2]
    if x.ndim == 4 and not x.flags.c_contiguous and x.transpose(1, 0, 2, 3).flags.c_contiguous:
        return x.transpose(1, 0, 2, 3).reshape(N * C, *x.shape[2:]), N, 1
    x = xp.ascontiguousarray(x)
    return x.reshape(N * C, *x.shape[2:]), 1, C


def _blocks(n0, n1, TH, TW, dtype, channels, lanes):
    """(b0, b1, buffers): blocks of whole images b0..b1 within images n0..n1, with one contiguous
    (16, ch, tiles) work matrix per entry of ``channels`` (fresh ones for a shorter last block:
    compiled loops see them dense). Each of ``lanes`` lanes works in its own blocks, so the
    block size is ``BLOCK_BYTES / lanes`` and the working memory stays BLOCK_BYTES-sized."""
    nb = images_per_block(n1 - n0, max(channels), TH, TW, xp.dtype(dtype).itemsize, lanes)
    bufs = None
    for b0 in range(n0, n1, nb):
        b1 = min(n1, b0 + nb)
        if bufs is None or b1 - b0 != nb:
            bufs = tuple(xp.empty((16, ch, (b1 - b0) * TH * TW), dtype) for ch in channels)
        yield b0, b1, bufs


def _lane_count(N, lanes):
    """How many lanes to split N images over: ``lanes`` if given, else the process's thread count,
    switching the process to lanes when that is more than one (``threads.use_lanes``)."""
    if lanes is None:
        lanes = use_lanes() if N > 1 else 1
    return lanes


def forward(x, W, b, pads, out_size, lanes=None):
    """y (K, N, OH, OW), channel-major: y = W * x + b for a 3x3 stride-1 kernel. The images are
    shared among ``lanes`` threads (by default the process's count; see :func:`_lane_count`)."""
    N, C = x.shape[:2]
    K = W.shape[0]
    (OH, OW), (top, _, left, _) = out_size, pads
    TH, TW = tiles(OH, OW)
    dtype = xp.result_type(x, W)
    planes, sc, sn = _planes(x.astype(dtype, copy=False))
    U = filter_transform(W.astype(dtype, copy=False))
    bias = xp.zeros(K, dtype) if b is None else b.astype(dtype, copy=False)
    y = xp.empty((K, N, OH, OW), dtype)

    def images(n0, n1):                                                 # one lane's share
        for b0, b1, (V, M) in _blocks(n0, n1, TH, TW, dtype, (C, K), len(parts)):
            input_tiles(planes, sc, sn, b0, b1, top, left, TH, TW, V)
            xp.matmul(U, V, out=M)                                      # M[xi] = U[xi] @ V[xi]
            output_tiles(M, y, b0, TH, TW, bias)

    parts = shares(N, _lane_count(N, lanes))
    lanes_run(images, parts)
    return y


def backward(dyc, x, x_shape, W, pads, need_x, need_W, lanes=None):
    """(dx (N, C, H, W) stored channel-major, or None; dW (K, C, 3, 3) or None) from dyc (K, N, OH, OW);
    x (the forward's input) is read only for dW. Images shared among lanes as in :func:`forward`;
    each lane sums its own part of dW."""
    N, C, H, Wd = x_shape
    K, _, OH, OW = dyc.shape
    top, _, left, _ = pads
    TH, TW = tiles(OH, OW)
    dtype = dyc.dtype
    dyc = xp.ascontiguousarray(dyc)
    if need_x:
        Ut = filter_transform(W.astype(dtype, copy=False)).transpose(0, 2, 1)      # U[xi]^T (C, K)
        dx = xp.empty((C, N, H, Wd), dtype)
    if need_W:
        planes, sc, sn = _planes(x.astype(dtype, copy=False))

    def images(n0, n1):                                                 # one lane's share
        dU = xp.zeros((16, K, C), dtype) if need_W else None
        for b0, b1, (dM, V) in _blocks(n0, n1, TH, TW, dtype, (K, C), len(parts)):
            grad_tiles(dyc, b0, b1, TH, TW, dM)
            if need_W:                           # the forward's V, rebuilt from x
                input_tiles(planes, sc, sn, b0, b1, top, left, TH, TW, V)
                dU += xp.matmul(dM, V.transpose(0, 2, 1))               # dU[xi] = dM[xi] @ V[xi]^T
            if need_x:
                dV = xp.matmul(Ut, dM, out=V)  # dV[xi] = U[xi]^T @ dM[xi] (V is spent: dU has it)
                input_grad_tiles(dV, dx, b0, top, left, TH, TW)
        return dU

    parts = shares(N, _lane_count(N, lanes))
    partial = lanes_run(images, parts)
    dW = None
    if need_W:
        dU = partial[0]
        for more in partial[1:]:
            dU += more
        dW = filter_transform_adjoint(dU)
    return (dx.transpose(1, 0, 2, 3) if need_x else None), dW
