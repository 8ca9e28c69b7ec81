"""What NumPy itself can do on the benchmark's workloads: the floor under any NumPy library.

``python -m bench --floors`` times these beside glassnet and torch (same worker protocol,
same thread count, alternated in the same run) and reports floor / torch. Two kinds:

* ``mlp``, ``mlp_b1_infer``: the whole step written by hand in NumPy, no framework
  (preallocated buffers, in-place updates, the same SGD momentum step);
* ``lenet5``, ``cifar_cnn``, ``lstm_seq``, ``char_lstm``: only the matrix products that an
  implementation of the step through NumPy's BLAS cannot avoid, in the fastest operand
  orientation measured on this machine, on preallocated inputs and outputs -- no im2col,
  no activations, no gate arithmetic, no optimizer. Any NumPy implementation of these
  steps is slower than this.

If a floor is above a target (floor / torch > target), NumPy cannot reach that target.
"""
from __future__ import annotations

import numpy as np

F32 = np.float32


def _rng():
    return np.random.default_rng(0)


def _gemms(shapes):
    """A step that runs ``out = a @ b`` for each (m, k, n, b_transposed) shape, preallocated.

    b_transposed selects ``a @ B.T`` with B stored (n, k), i.e. BLAS's transposed operand.
    Repeated shapes (a recurrent layer's per-step products) reuse the same arrays, as the
    real loop reuses its weight matrix and state buffers, which stay in cache.
    Returns (step, flops)."""
    r = _rng()
    arrays, work = {}, []
    for shape in shapes:
        if shape not in arrays:
            m, k, n, b_t = shape
            a = r.standard_normal((m, k)).astype(F32)
            b = r.standard_normal((n, k) if b_t else (k, n)).astype(F32)
            arrays[shape] = (a, b.T if b_t else b, np.empty((m, n), F32))
        work.append(arrays[shape])

    def step():
        for a, b, out in work:
            np.matmul(a, b, out=out)
    return step, sum(2 * m * k * n for m, k, n, _ in shapes)


def mlp(batch=128):
    """784-256-128-10 ReLU MLP, cross-entropy, SGD momentum 0.9: the full step by hand."""
    r = _rng()
    x = r.standard_normal((batch, 784)).astype(F32)
    y = r.integers(0, 10, batch)
    dims = [(784, 256), (256, 128), (128, 10)]
    W = [(r.standard_normal((o, i)) / np.sqrt(i)).astype(F32) for i, o in dims]
    b = [np.zeros(o, F32) for _, o in dims]
    params = W + b
    bufs = [np.zeros_like(p) for p in params]
    tmps = [np.empty_like(p) for p in params]
    rows = np.arange(batch)

    def step():
        acts, h = [x], x
        for k in range(3):
            h = h @ W[k].T
            h += b[k]
            if k < 2:
                np.maximum(h, 0, out=h)
            acts.append(h)
        h -= h.max(axis=1, keepdims=True)                  # softmax cross-entropy gradient
        np.exp(h, out=h)
        h /= h.sum(axis=1, keepdims=True)
        h[rows, y] -= 1
        h /= batch
        d, grads = h, [None] * 6
        for k in (2, 1, 0):
            grads[k] = d.T @ acts[k]
            grads[3 + k] = d.sum(axis=0)
            if k:
                d = d @ W[k]
                d *= acts[k] > 0
        for p, g, v, t in zip(params, grads, bufs, tmps):   # v = 0.9 v + g; p -= lr v
            v *= 0.9
            v += g
            p -= np.multiply(v, 0.01, out=t)
    forward = sum(2 * batch * i * o for i, o in dims)
    return step, 3 * forward - 2 * batch * 784 * 256


def mlp_b1_infer():
    r = _rng()
    x = r.standard_normal((1, 784)).astype(F32)
    layers = [((r.standard_normal((i, o)) / np.sqrt(i)).astype(F32), np.zeros(o, F32))
              for i, o in [(784, 256), (256, 128), (128, 10)]]

    def step():
        h = x
        for k, (Wt, bias) in enumerate(layers):
            h = h @ Wt
            h += bias
            if k < 2:
                np.maximum(h, 0, out=h)
    return step, None


def _conv_gemms(batch, convs, fcs):
    """Forward, weight-gradient and input-gradient products of im2col convolutions and FCs.

    convs: (out channels O, rows K = C*kh*kw, output pixels per sample, needs dx);
    fcs: (in, out, needs dx)."""
    shapes = []
    for O, K, pixels, dx in convs:
        P = batch * pixels
        shapes.append((O, K, P, False))                # y = W cols
        shapes.append((K, P, O, True))                 # dW^T = cols dy^T
        if dx:
            shapes.append((K, O, P, False))            # dcols = W^T dy
    for i, o, dx in fcs:
        shapes += [(batch, i, o, True), (o, batch, i, False)] + ([(batch, o, i, False)] if dx else [])
    return _gemms(shapes)


def lenet5(batch=128):
    return _conv_gemms(batch, [(6, 25, 784, False), (16, 150, 100, True)],
                       [(400, 120, True), (120, 84, True), (84, 10, True)])


def cifar_cnn(batch=64):
    return _conv_gemms(batch, [(32, 27, 1024, False), (32, 288, 1024, True), (64, 288, 256, True),
                               (64, 576, 256, True)], [(4096, 256, True), (256, 10, True)])


def _lstm_gemms(T, N, I, H, head=None, dx=False):
    """Input projection, per-step gate and dh products, weight gradients, optional head."""
    G = 4 * H
    shapes = [(T * N, I + 1, G, True)]                 # z_x = [x | 1] [W_ih | b]^T
    shapes += [(G, H, N, False)] * T                   # z_t^T += W_hh h_{t-1}^T
    shapes += [(H, G, N, False)] * T                   # dh_{t-1}^T = W_hh^T dz_t^T
    shapes.append((G, T * N, H + I + 1, False))        # [dW_hh | dW_ih | db] = dZ^T [H | X | 1]
    if dx:
        shapes.append((T * N, G, I, False))            # dx = dZ W_ih
    if head is not None:
        rows, V = head
        shapes += [(rows, H, V, True), (V, rows, H, False), (rows, V, H, False)]
    return _gemms(shapes)


def lstm_seq(batch=128, seq_len=28):
    return _lstm_gemms(seq_len, batch, 28, 128, head=(batch, 10))


def char_lstm(batch=32, seq_len=64, vocab=65):
    return _lstm_gemms(seq_len, batch, 64, 256, head=(batch * seq_len, vocab), dx=True)


FLOORS = {"mlp": mlp, "mlp_b1_infer": mlp_b1_infer, "lenet5": lenet5, "cifar_cnn": cifar_cnn,
          "lstm_seq": lstm_seq, "char_lstm": char_lstm}


def build(workload: str, kwargs=None):
    return FLOORS[workload](**(kwargs or {}))
