"""The textbook form of the affine map y = x W^T + b (kept apart from tests/functions/reference.py,
whose sections have other owners): one explicit sum per output, in float64."""
import numpy as np


def affine_by_sums(x, W, b=None):
    """y[n, j] = b[j] + sum_i x[n, i] W[j, i] for x (N, K), W (J, K), b (J,) or None, looped."""
    N, K = x.shape
    J = W.shape[0]
    y = np.zeros((N, J))
    for n in range(N):
        for j in range(J):
            total = 0.0 if b is None else float(b[j])
            for i in range(K):
                total += float(x[n, i]) * float(W[j, i])
            y[n, j] = total
    return y


def affine_error_bound(x, W, b, dtype):
    """The worst-case rounding error of any summation order of those sums in ``dtype``:
    (K + 1) eps (|x| |W|^T + |b|), the standard bound for a dot product of length K plus the bias."""
    K = x.shape[1]
    scale = np.abs(x.astype(np.float64)) @ np.abs(W.astype(np.float64)).T
    if b is not None:
        scale = scale + np.abs(b.astype(np.float64))
    return (K + 1) * np.finfo(dtype).eps * scale
