"""Textbook forms for pooling and batch norm that tests/functions/reference.py does not hold
(kept apart so that file's sections stay with their owners): each written as the notes
state it, loops over windows and channels, in float64."""
import numpy as np


def batch_norm_eval(x, gamma, beta, mean, var, eps):
    """(y, dx_of): y = gamma (x - mean) / sqrt(var + eps) + beta with fixed (running)
    statistics, a per-channel affine map, so dx = gamma dy / sqrt(var + eps)."""
    shape = (1, -1) + (1,) * (x.ndim - 2)
    g = gamma.reshape(shape) / np.sqrt(var.reshape(shape) + eps)
    y = (x - mean.reshape(shape)) * g + beta.reshape(shape)
    return y, lambda dy: dy * g


def adaptive_bounds(size, out):
    """torch's adaptive windows: start_i = floor(i*size/out), end_i = ceil((i+1)*size/out)."""
    return [(int(np.floor(i * size / out)), int(np.ceil((i + 1) * size / out))) for i in range(out)]


def adaptive_max_pool2d_by_windows(x, out):
    """(y, indices, dx_of): y[n,c,i,j] = max of x[n,c] over torch's window rows_i x cols_j,
    indices its flat position h*W + w (the first in row-major order on ties), and dx_of(dy)
    routing each dy to that position (adding where windows overlap)."""
    N, C, H, W = x.shape
    rows, cols = adaptive_bounds(H, out[0]), adaptive_bounds(W, out[1])
    y = np.zeros((N, C) + tuple(out))
    indices = np.zeros((N, C) + tuple(out), dtype=np.int64)
    for n in range(N):
        for c in range(C):
            for i, (r0, r1) in enumerate(rows):
                for j, (c0, c1) in enumerate(cols):
                    best = None
                    for h in range(r0, r1):
                        for w in range(c0, c1):
                            if best is None or x[n, c, h, w] > best:
                                best, indices[n, c, i, j] = x[n, c, h, w], h * W + w
                    y[n, c, i, j] = best

    def dx_of(dy):
        dx = np.zeros((N, C, H * W))
        for n, c, i, j in np.ndindex(dy.shape):
            dx[n, c, indices[n, c, i, j]] += dy[n, c, i, j]
        return dx.reshape(x.shape)
    return y, indices, dx_of


def adaptive_avg_pool2d_by_windows(x, out):
    """(y, dx_of): y[n,c,i,j] = mean of x[n,c] over torch's window rows_i x cols_j, and
    dx_of(dy) giving every position of window (i, j) dy[n,c,i,j] / its size (adding where
    windows overlap)."""
    N, C, H, W = x.shape
    rows, cols = adaptive_bounds(H, out[0]), adaptive_bounds(W, out[1])
    y = np.zeros((N, C) + tuple(out))
    for i, (r0, r1) in enumerate(rows):
        for j, (c0, c1) in enumerate(cols):
            y[:, :, i, j] = x[:, :, r0:r1, c0:c1].mean(axis=(2, 3))

    def dx_of(dy):
        dx = np.zeros(x.shape)
        for i, (r0, r1) in enumerate(rows):
            for j, (c0, c1) in enumerate(cols):
                dx[:, :, r0:r1, c0:c1] += dy[:, :, i, j, None, None] / ((r1 - r0) * (c1 - c0))
        return dx
    return y, dx_of
