"""Textbook forms of glassnet's primitives, written for reading, not speed.

Every kernel path (compiled and NumPy) is tested against these in float64: convolution as a
sum over windows, its input gradient as a full cross-correlation of dy with the flipped
kernel, pooling window by window, batch norm by its formula, and the recurrent layers step
by step with backpropagation through time as a loop over t. Plain NumPy only: nothing here
imports glassnet.
"""
from __future__ import annotations

import numpy as np  # noqa: F401


# --- recurrent ---
# One step at a time, rows are sequences: a_t = x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh.
# Each *_bptt walks t from the last step to the first, carrying dL/dh (and dL/dc) back, and sums
# every step's share of the weight gradients. Inputs: x (T, N, I), h0 (and c0) (N, H), weights as
# torch's (gates stacked i|f|g|o or r|z|n), biases may be None; dy (T, N, H), dh_n (and dc_n) (N, H).

def _sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def _bias(b, size):
    return np.zeros(size) if b is None else b


def rnn_forward(x, h0, W_ih, W_hh, b_ih=None, b_hh=None, nonlinearity="tanh"):
    """h_t = act(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh) -> [h_0, h_1, ..., h_T]."""
    H = W_hh.shape[1]
    hs = [h0]
    for x_t in x:
        a = x_t @ W_ih.T + _bias(b_ih, H) + hs[-1] @ W_hh.T + _bias(b_hh, H)
        hs.append(np.tanh(a) if nonlinearity == "tanh" else np.maximum(a, 0))
    return hs


def rnn_bptt(x, h0, W_ih, W_hh, b_ih, b_hh, dy, dh_n, nonlinearity="tanh"):
    """-> dx, dh0, dW_ih, dW_hh, db (db is both db_ih and db_hh)."""
    hs = rnn_forward(x, h0, W_ih, W_hh, b_ih, b_hh, nonlinearity)
    dx, dW_ih, dW_hh, db = np.zeros_like(x), np.zeros_like(W_ih), np.zeros_like(W_hh), np.zeros(W_hh.shape[0])
    dh_next = dh_n
    for t in reversed(range(len(x))):
        dh = dy[t] + dh_next                       # from the output y_t and from step t+1
        h_t, h_prev = hs[t + 1], hs[t]
        da = dh * (1 - h_t ** 2) if nonlinearity == "tanh" else dh * (h_t > 0)
        dW_ih += da.T @ x[t]
        dW_hh += da.T @ h_prev
        db += da.sum(axis=0)
        dx[t] = da @ W_ih
        dh_next = da @ W_hh
    return dx, dh_next, dW_ih, dW_hh, db


def lstm_step(x_t, h_prev, c_prev, W_ih, W_hh, b_ih=None, b_hh=None):
    """-> (i, f, g, o), c_t, h_t."""
    H = W_hh.shape[1]
    a = x_t @ W_ih.T + _bias(b_ih, 4 * H) + h_prev @ W_hh.T + _bias(b_hh, 4 * H)
    i, f, g, o = _sigmoid(a[:, :H]), _sigmoid(a[:, H:2 * H]), np.tanh(a[:, 2 * H:3 * H]), _sigmoid(a[:, 3 * H:])
    c_t = f * c_prev + i * g
    h_t = o * np.tanh(c_t)
    return (i, f, g, o), c_t, h_t


def lstm_forward(x, h0, c0, W_ih, W_hh, b_ih=None, b_hh=None):
    """-> [h_0 .. h_T], [c_0 .. c_T], [(i, f, g, o) of steps 1 .. T]."""
    hs, cs, gates = [h0], [c0], []
    for x_t in x:
        gate, c_t, h_t = lstm_step(x_t, hs[-1], cs[-1], W_ih, W_hh, b_ih, b_hh)
        hs.append(h_t)
        cs.append(c_t)
        gates.append(gate)
    return hs, cs, gates


def lstm_bptt(x, h0, c0, W_ih, W_hh, b_ih, b_hh, dy, dh_n, dc_n):
    """-> dx, dh0, dc0, dW_ih, dW_hh, db."""
    hs, cs, gates = lstm_forward(x, h0, c0, W_ih, W_hh, b_ih, b_hh)
    dx, dW_ih, dW_hh, db = np.zeros_like(x), np.zeros_like(W_ih), np.zeros_like(W_hh), np.zeros(W_hh.shape[0])
    dh_next, dc_next = dh_n, dc_n
    for t in reversed(range(len(x))):
        i, f, g, o = gates[t]
        c_t, c_prev, h_prev = cs[t + 1], cs[t], hs[t]
        dh = dy[t] + dh_next
        do = dh * np.tanh(c_t)
        dc = dc_next + dh * o * (1 - np.tanh(c_t) ** 2)
        di, df, dg = dc * g, dc * c_prev, dc * i
        da = np.concatenate([di * i * (1 - i), df * f * (1 - f), dg * (1 - g ** 2), do * o * (1 - o)], axis=1)
        dW_ih += da.T @ x[t]
        dW_hh += da.T @ h_prev
        db += da.sum(axis=0)
        dx[t] = da @ W_ih
        dh_next = da @ W_hh
        dc_next = dc * f                           # the cell's highway: dc_{t-1} = dc_t * f_t
    return dx, dh_next, dc_next, dW_ih, dW_hh, db


def gru_step(x_t, h_prev, W_ih, W_hh, b_ih=None, b_hh=None, reset_after=True):
    """-> (r, z, n), h_t with h_t = (1 - z) n + z h_{t-1}."""
    H = W_hh.shape[1]
    b_ih, b_hh = _bias(b_ih, 3 * H), _bias(b_hh, 3 * H)
    W_ir, W_iz, W_in = W_ih[:H], W_ih[H:2 * H], W_ih[2 * H:]
    W_hr, W_hz, W_hn = W_hh[:H], W_hh[H:2 * H], W_hh[2 * H:]
    r = _sigmoid(x_t @ W_ir.T + b_ih[:H] + h_prev @ W_hr.T + b_hh[:H])
    z = _sigmoid(x_t @ W_iz.T + b_ih[H:2 * H] + h_prev @ W_hz.T + b_hh[H:2 * H])
    if reset_after:
        n = np.tanh(x_t @ W_in.T + b_ih[2 * H:] + r * (h_prev @ W_hn.T + b_hh[2 * H:]))
    else:
        n = np.tanh(x_t @ W_in.T + b_ih[2 * H:] + (r * h_prev) @ W_hn.T + b_hh[2 * H:])
    return (r, z, n), (1 - z) * n + z * h_prev


def gru_forward(x, h0, W_ih, W_hh, b_ih=None, b_hh=None, reset_after=True):
    """-> [h_0 .. h_T], [(r, z, n) of steps 1 .. T]."""
    hs, gates = [h0], []
    for x_t in x:
        gate, h_t = gru_step(x_t, hs[-1], W_ih, W_hh, b_ih, b_hh, reset_after)
        hs.append(h_t)
        gates.append(gate)
    return hs, gates


def gru_bptt(x, h0, W_ih, W_hh, b_ih, b_hh, dy, dh_n, reset_after=True):
    """-> dx, dh0, dW_ih, dW_hh, db_ih, db_hh."""
    H = W_hh.shape[1]
    hs, gates = gru_forward(x, h0, W_ih, W_hh, b_ih, b_hh, reset_after)
    W_hr, W_hz, W_hn = W_hh[:H], W_hh[H:2 * H], W_hh[2 * H:]
    b_hn = _bias(b_hh, 3 * H)[2 * H:]
    dx, dW_ih, dW_hh = np.zeros_like(x), np.zeros_like(W_ih), np.zeros_like(W_hh)
    db_ih, db_hh = np.zeros(3 * H), np.zeros(3 * H)
    dh_next = dh_n
    for t in reversed(range(len(x))):
        r, z, n = gates[t]
        h_prev = hs[t]
        dh = dy[t] + dh_next
        dn = dh * (1 - z)
        dz = dh * (h_prev - n)
        dh_prev = dh * z                           # h_t = (1 - z) n + z h_{t-1}
        da_n = dn * (1 - n ** 2)
        da_z = dz * z * (1 - z)
        if reset_after:                            # n = tanh(a_n + r u_n), u_n = h_{t-1} W_hn^T + b_hn
            u_n = h_prev @ W_hn.T + b_hn
            dr = da_n * u_n
            du_n = da_n * r
            da_r = dr * r * (1 - r)
            dW_hh[2 * H:] += du_n.T @ h_prev
            db_hh[2 * H:] += du_n.sum(axis=0)
            dh_prev = dh_prev + du_n @ W_hn
        else:                                      # n = tanh(a_n + (r h_{t-1}) W_hn^T + b_hn)
            d_rh = da_n @ W_hn
            dr = d_rh * h_prev
            da_r = dr * r * (1 - r)
            dW_hh[2 * H:] += da_n.T @ (r * h_prev)
            db_hh[2 * H:] += da_n.sum(axis=0)
            dh_prev = dh_prev + d_rh * r
        dW_hh[:H] += da_r.T @ h_prev
        dW_hh[H:2 * H] += da_z.T @ h_prev
        db_hh[:2 * H] += np.concatenate([da_r, da_z], axis=1).sum(axis=0)
        dh_prev = dh_prev + da_r @ W_hr + da_z @ W_hz
        da = np.concatenate([da_r, da_z, da_n], axis=1)
        dW_ih += da.T @ x[t]
        db_ih += da.sum(axis=0)
        dx[t] = da @ W_ih
        dh_next = dh_prev
    return dx, dh_next, dW_ih, dW_hh, db_ih, db_hh


# --- convolution ---
def conv2d_by_windows(x, W, b, stride, pads, dilation, groups):
    """y[n,o,p,q] = b[o] + sum_{c,i,j} W[o,c,i,j] xpad[n, g*Cg + c, p*sh + i*dh, q*sw + j*dw]:
    cross-correlation as a literal sum over every output pixel's window.
    pads = (top, bottom, left, right)."""
    N, C, H, Wd = x.shape
    O, Cg, kh, kw = W.shape
    (sh, sw), (dh, dw), (top, bottom, left, right) = stride, dilation, pads
    xpad = np.zeros((N, C, H + top + bottom, Wd + left + right))
    xpad[:, :, top:top + H, left:left + Wd] = x
    OH = (H + top + bottom - dh * (kh - 1) - 1) // sh + 1
    OW = (Wd + left + right - dw * (kw - 1) - 1) // sw + 1
    Og = O // groups
    y = np.zeros((N, O, OH, OW))
    for n in range(N):
        for o in range(O):
            g = o // Og
            for p in range(OH):
                for q in range(OW):
                    s = 0.0 if b is None else b[o]
                    for c in range(Cg):
                        for i in range(kh):
                            for j in range(kw):
                                s += W[o, c, i, j] * xpad[n, g * Cg + c, p * sh + i * dh, q * sw + j * dw]
                    y[n, o, p, q] = s
    return y


def conv2d_weight_grad_by_windows(x, dy, W_shape, stride, pads, dilation, groups):
    """dW = x * dy: dW[o,c,i,j] = sum_{n,p,q} dy[n,o,p,q] xpad[n, g*Cg + c, p*sh + i*dh, q*sw + j*dw]."""
    N, C, H, Wd = x.shape
    O, Cg, kh, kw = W_shape
    (sh, sw), (dh, dw), (top, bottom, left, right) = stride, dilation, pads
    xpad = np.zeros((N, C, H + top + bottom, Wd + left + right))
    xpad[:, :, top:top + H, left:left + Wd] = x
    OH, OW = dy.shape[2:]
    Og = O // groups
    dW = np.zeros(W_shape)
    for o in range(O):
        g = o // Og
        for c in range(Cg):
            for i in range(kh):
                for j in range(kw):
                    s = 0.0
                    for n in range(N):
                        for p in range(OH):
                            for q in range(OW):
                                s += dy[n, o, p, q] * xpad[n, g * Cg + c, p * sh + i * dh, q * sw + j * dw]
                    dW[o, c, i, j] = s
    return dW


def conv2d_input_grad_full(dy, W, x_shape, stride, pads, dilation, groups):
    """dx = pad(dy) * rot180(W), cropped: the textbook full cross-correlation.

    1. dilate dy by the stride (sh - 1 zeros between entries), 2. pad it by dh*(kh-1) on top
    and left and enough on bottom and right to reach the padded input's size, 3. cross-
    correlate with rot180(W) (dilated), its in/out channel roles swapped, 4. crop the forward
    padding."""
    N, C, H, Wd = x_shape
    O, Cg, kh, kw = W.shape
    (sh, sw), (dh, dw), (top, bottom, left, right) = stride, dilation, pads
    Hp, Wp = H + top + bottom, Wd + left + right
    OH, OW = dy.shape[2:]
    dilated = np.zeros((N, O, (OH - 1) * sh + 1, (OW - 1) * sw + 1))
    dilated[:, :, ::sh, ::sw] = dy
    eh, ew = dh * (kh - 1), dw * (kw - 1)                     # the dilated kernel's extent - 1
    full = np.zeros((N, O, Hp + eh, Wp + ew))                 # pad(dy)
    full[:, :, eh:eh + dilated.shape[2], ew:ew + dilated.shape[3]] = dilated
    W_rot = W[:, :, ::-1, ::-1]                               # rot180(W)
    Og = O // groups
    dxpad = np.zeros((N, C, Hp, Wp))
    for n in range(N):
        for c in range(C):
            g = c // Cg
            for h in range(Hp):
                for w in range(Wp):
                    s = 0.0
                    for o in range(g * Og, (g + 1) * Og):
                        for i in range(kh):
                            for j in range(kw):
                                s += full[n, o, h + i * dh, w + j * dw] * W_rot[o, c - g * Cg, i, j]
                    dxpad[n, c, h, w] = s
    return dxpad[:, :, top:top + H, left:left + Wd]


# --- pooling ---
def max_pool2d_by_windows(x, kernel, stride, pads, dilation, largest=True):
    """(y, dx_of) where y[n,c,p,q] = max over the window (padding never wins, first maximum in
    row-major order on ties) and dx_of(dy) routes each dy to its window's maximum."""
    N, C, H, W = x.shape
    (kh, kw), (sh, sw), (dh, dw), (top, bottom, left, right) = kernel, stride, dilation, pads
    OH = (H + top + bottom - dh * (kh - 1) - 1) // sh + 1
    OW = (W + left + right - dw * (kw - 1) - 1) // sw + 1
    y = np.zeros((N, C, OH, OW))
    where = np.zeros((N, C, OH, OW, 2), dtype=int)
    for n in range(N):
        for c in range(C):
            for p in range(OH):
                for q in range(OW):
                    best = None
                    for i in range(kh):
                        for j in range(kw):
                            h, w = p * sh - top + i * dh, q * sw - left + j * dw
                            if 0 <= h < H and 0 <= w < W:
                                v = x[n, c, h, w]
                                if best is None or (v > best if largest else v < best):
                                    best, where[n, c, p, q] = v, (h, w)
                    y[n, c, p, q] = best

    def dx_of(dy):
        dx = np.zeros(x.shape)
        for n, c, p, q in np.ndindex(dy.shape):
            h, w = where[n, c, p, q]
            dx[n, c, h, w] += dy[n, c, p, q]
        return dx
    return y, dx_of


def avg_pool2d_by_windows(x, kernel, stride, pads, divisor):
    """y = (sum of the zero-padded window) / divisor, and its backward dy / divisor to every
    position of every window (divisor a number)."""
    N, C, H, W = x.shape
    (kh, kw), (sh, sw), (top, bottom, left, right) = kernel, stride, pads
    xpad = np.zeros((N, C, H + top + bottom, W + left + right))
    xpad[:, :, top:top + H, left:left + W] = x
    OH, OW = (xpad.shape[2] - kh) // sh + 1, (xpad.shape[3] - kw) // sw + 1
    y = np.zeros((N, C, OH, OW))
    for p in range(OH):
        for q in range(OW):
            y[:, :, p, q] = xpad[:, :, p * sh:p * sh + kh, q * sw:q * sw + kw].sum(axis=(2, 3)) / divisor

    def dx_of(dy):
        dxpad = np.zeros(xpad.shape)
        for p in range(OH):
            for q in range(OW):
                dxpad[:, :, p * sh:p * sh + kh, q * sw:q * sw + kw] += dy[:, :, p, q, None, None] / divisor
        return dxpad[:, :, top:top + H, left:left + W]
    return y, dx_of


# --- activation ---
def relu(x):
    """y = max(0, x)."""
    return np.where(x > 0, x, 0.0)


def relu_backward(dy, x):
    """dx = dy where x > 0, else 0."""
    return np.where(x > 0, dy, 0.0)


# --- normalization ---
def batch_norm_train(x, gamma, beta, eps):
    """y = gamma (x - mu) / sqrt(var + eps) + beta per channel, mu and the biased var over (N, *)."""
    axes = (0,) + tuple(range(2, x.ndim))
    shape = (1, -1) + (1,) * (x.ndim - 2)
    mu = x.mean(axis=axes, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=axes, keepdims=True)
    x_hat = (x - mu) / np.sqrt(var + eps)
    return gamma.reshape(shape) * x_hat + beta.reshape(shape)


def batch_norm_backward(x, gamma, eps, dy):
    """(dx, dgamma, dbeta) by the chain rule through mu and var, term by term:
    dx_hat = gamma dy;  dvar = sum(dx_hat (x - mu)) (-1/2)(var + eps)^(-3/2);
    dmu = -sum(dx_hat) / sqrt(var + eps);  dx = dx_hat / sqrt(var + eps) + dvar 2 (x - mu) / m + dmu / m."""
    axes = (0,) + tuple(range(2, x.ndim))
    shape = (1, -1) + (1,) * (x.ndim - 2)
    m = x.size // x.shape[1]
    mu = x.mean(axis=axes, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=axes, keepdims=True)
    x_hat = (x - mu) / np.sqrt(var + eps)
    dx_hat = gamma.reshape(shape) * dy
    dvar = (dx_hat * (x - mu)).sum(axis=axes, keepdims=True) * -0.5 * (var + eps) ** -1.5
    dmu = -dx_hat.sum(axis=axes, keepdims=True) / np.sqrt(var + eps)
    dx = dx_hat / np.sqrt(var + eps) + dvar * 2 * (x - mu) / m + dmu / m
    return dx, (dy * x_hat).sum(axis=axes), dy.sum(axis=axes)
