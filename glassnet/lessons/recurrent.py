"""Recurrent lessons: backpropagation through time path by path, vanishing and exploding gradients
against the (gamma lambda)^(t-k) bound, gradient clipping, one LSTM step and one GRU step."""
from __future__ import annotations

import inspect

import numpy as np

from .. import nn
from ..autograd.functional import jacobian
from ..nn import functional as F
from ..nn.utils import clip_grad_norm_, clip_grad_value_
from ._util import t
from .registry import lesson


@lesson("rnn-bptt", "Backpropagation through time on a 3-step RNN: one term per path, summed, beside autograd",
        ("001", "Grad of loss wrt to W"),
        ("002", "4.2 BACK PROPAGATION THROUGH TIME"))
def rnn_bptt(board):
    w, u, y_true = 0.5, 1.0, 0.5
    xs = [1.0, 0.5, -1.0]
    board.say(f"A one-unit RNN h_t = tanh(w h_(t-1) + u x_t), h_0 = 0, w = {w}, u = {u}, inputs {xs}; the loss "
              f"L = 1/2 (h_3 - {y_true})^2 reads the last state (many-to-one). Values chosen here; the notes "
              "derive the sum without numbers.")
    rnn = nn.RNN(1, 1, bias=False, batch_first=True).double()
    rnn.load_state_dict({"weight_ih_l0": np.array([[u]]), "weight_hh_l0": np.array([[w]])})
    out, _ = rnn(t(np.array(xs)[None, :, None]))
    hs = out.numpy()[0, :, 0]
    loss = 0.5 * (out[0, -1, 0] - y_true) ** 2
    loss.backward()
    board.step("Forward")
    h = [0.0] + list(hs)
    for k in range(1, 4):
        board.show(f"h_{k} = tanh({w} h_{k - 1} + {u} x_{k})", hs[k - 1])
    board.values["h"] = hs
    board.show("L", loss, key="loss")
    board.step("dL/dw = dL/dh_3 * sum_k (dh_3/dh_k) (d+h_k/dw)")
    board.say("d+h_k/dw = (1 - h_k^2) h_(k-1) is the explicit derivative (h_(k-1) held fixed); "
              "dh_j/dh_(j-1) = (1 - h_j^2) w; dh_3/dh_k is the product of those from j = k+1 to 3.")
    dL_dh3 = hs[2] - y_true
    board.show("dL/dh_3 = h_3 - y", dL_dh3)
    terms = []
    for k in (3, 2, 1):
        explicit = (1 - h[k] ** 2) * h[k - 1]
        chain = np.prod([(1 - h[j] ** 2) * w for j in range(k + 1, 4)]) if k < 3 else 1.0
        term = dL_dh3 * chain * explicit
        terms.append(term)
        board.show(f"path through h_{k}", f"{dL_dh3:.4f} * {chain:.4f} * {explicit:.4f} = {term:.6f}")
    total = sum(terms)
    board.values["terms"] = np.array(terms)
    board.show("sum of the paths", total, key="bptt_sum", digits=6)
    board.show("autograd: rnn.weight_hh_l0.grad", rnn.weight_hh_l0.grad.numpy()[0, 0], key="autograd", digits=6)
    if abs(total - rnn.weight_hh_l0.grad.numpy()[0, 0]) > 1e-12:
        raise AssertionError("BPTT paths do not sum to autograd's gradient")
    board.note("The path through h_1 contributes 0 here because h_0 = 0 (d+h_1/dw = (1 - h_1^2) h_0). "
               "Each earlier path carries one more factor (1 - h_j^2) w < 1: the start of vanishing gradients.")


def _grad_norms(lam: float, T: int = 20, hidden: int = 6, input_scale: float = 1.0, seed: int = 0):
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((hidden, hidden)))
    W = lam * q                                         # spectral norm exactly lam
    U = rng.standard_normal((hidden, 3)) * 0.5
    xs = rng.standard_normal((T, 3)) * input_scale
    Wt, Ut = t(W), t(U)
    states = [t(np.zeros((1, hidden)))]
    for step in range(T):
        states.append(F.rnn_tanh_cell(t(xs[step][None]), states[-1], Ut, Wt))
    measured = float(np.linalg.norm(W, 2))
    rows = []
    for k in (T - 1, T - 5, T - 10, 0):
        def run_from(hk, k=k):
            h = hk
            for step in range(k, T):
                h = F.rnn_tanh_cell(t(xs[step][None]), h, Ut, Wt)
            return h
        J = jacobian(run_from, states[k]).numpy().reshape(hidden, hidden)
        rows.append((T - k, float(np.linalg.norm(J, 2)), measured ** (T - k)))
    return measured, rows


@lesson("vanishing-gradients", "Vanishing and exploding gradients: ||dh_t/dh_k|| <= (gamma lambda)^(t-k)",
        ("001", "Two issues with RNN: Vanishing Gradient and Exploding Gradient"))
def vanishing(board):
    board.say("For h_j = tanh(W h_(j-1) + U x_j): dh_j/dh_(j-1) = diag(1 - h_j^2) W, so ||dh_t/dh_k|| <= "
              "(gamma lambda)^(t-k) with gamma = max tanh' = 1 (1/4 for the logistic sigmoid) and lambda = ||W||. "
              "glassnet measures ||dh_20/dh_k|| (the spectral norm of the Jacobian from "
              "gn.autograd.functional.jacobian) on a 6-unit RNN whose W has a chosen spectral norm.")
    board.compare("gamma for tanh (max slope)", 1.0, "1")
    board.compare("gamma for the sigmoid", 0.25, "0.25")
    for lam, scale, label in ((0.6, 1.0, "small"), (1.5, 0.05, "large")):
        measured, rows = _grad_norms(lam, input_scale=scale)
        board.step(f"{label} weights: lambda = ||W||_2 measured {measured:.4f}")
        for gap, norm, bound in rows:
            board.show(f"t - k = {gap:2d}", f"||dh_t/dh_k|| = {norm:.3e}   bound (gamma lambda)^(t-k) = {bound:.3e}")
            if norm > bound * (1 + 1e-9):
                raise AssertionError("the bound is violated")
        board.values[f"lambda_{label}"] = measured
        board.values[f"norms_{label}"] = np.array([r[1] for r in rows])
        board.values[f"bounds_{label}"] = np.array([r[2] for r in rows])
    board.note("gamma lambda < 1 guarantees vanishing. gamma lambda > 1 only allows explosion: with small inputs "
               "(tanh near its linear middle) the norms grow as above, but saturated units (1 - h^2 near 0) can "
               "still shrink the product. The remedies the notes give: clipping for explosion, LSTM/GRU for vanishing.")


@lesson("gradient-clipping", "Gradient clipping by value and by norm at the notes' threshold 0.7",
        ("001", "Gradient clipping"), ("000", "Exploding Gradient Pt:"))
def gradient_clipping(board):
    g = np.array([0.3, -1.2, 0.9, 0.5])
    board.say("The notes give the threshold 0.7 but no gradient; g = [0.3, -1.2, 0.9, 0.5] is chosen here.")
    param = t(np.zeros(4), requires_grad=True)
    param.grad = t(g)
    board.show("g", g)
    board.step("By value: nn.utils.clip_grad_value_(params, 0.7) keeps each entry in [-0.7, 0.7]")
    clip_grad_value_([param], 0.7)
    by_value = param.grad.numpy().copy()
    board.show("clipped", by_value, key="by_value")
    board.compare("largest |entry|", np.abs(by_value).max(), "0.7")
    one_sided = np.minimum(g, 0.7)
    board.compare("000's grad = min(grad, threshold)", by_value, " ".join(f"{v:g}" for v in one_sided),
                  why="min(grad, threshold) only caps large positive entries; -1.2 must become -0.7 as well "
                      "(clip to [-threshold, threshold], as 001 says)")
    board.show("direction change: cosine(g, clipped)",
               float(g @ by_value / np.linalg.norm(g) / np.linalg.norm(by_value)), key="cos_value")
    board.step("By norm: nn.utils.clip_grad_norm_(params, 0.7) rescales g to length 0.7 when ||g|| > 0.7")
    param.grad = t(g)
    total = clip_grad_norm_([param], 0.7)
    by_norm = param.grad.numpy().copy()
    board.show("||g||_2 before", total, key="norm_before")
    board.show("g * 0.7/||g||", by_norm, key="by_norm")
    board.compare("||g||_2 after", np.linalg.norm(by_norm), "0.7", key="norm_after")
    board.show("direction change: cosine(g, clipped)",
               float(g @ by_norm / np.linalg.norm(g) / np.linalg.norm(by_norm)), key="cos_norm")
    board.note("001 describes both in one breath ('normalize ... and clip the gradient value to a range'); they "
               "differ: clipping by value bends the direction, clipping by norm keeps it. torch's norm clipping "
               "divides by ||g|| + 1e-6, so the clipped norm is 0.7 to six decimals, not exactly. 001 also calls "
               "truncated backpropagation 'gradient clipping'; they are different remedies: truncation stops "
               "the product of Jacobians after k steps, clipping rescales the gradient after it is computed.")


def _cell_weights(hidden: int, inputs: int, gates: int):
    n = gates * hidden
    w_ih = np.round(np.sin(np.arange(n * inputs) + 1.0).reshape(n, inputs) * 0.5, 2)
    w_hh = np.round(np.cos(np.arange(n * hidden) + 1.0).reshape(n, hidden) * 0.5, 2)
    b = np.round(np.linspace(-0.2, 0.3, n), 2)
    return w_ih, w_hh, b


@lesson("lstm-step", "One LSTM step: i, f, g, o, c_t, h_t, and dc_t/dc_(t-1) = f_t",
        ("000", "LSTMs to the Rescue:"), ("001", "LSTM"))
def lstm_step(board):
    w_ih, w_hh, b = _cell_weights(2, 2, 4)
    cell = nn.LSTMCell(2, 2).double()
    cell.load_state_dict({"weight_ih": w_ih, "weight_hh": w_hh, "bias_ih": b, "bias_hh": np.zeros(8)})
    x, h0, c0 = t([[1.0, -1.0]]), t([[0.1, -0.2]]), t([[0.5, -0.3]])
    board.say("A 2-unit nn.LSTMCell with small fixed weights (chosen here), x = [1, -1], h_(t-1) = [0.1, -0.2], "
              "c_(t-1) = [0.5, -0.3]. The rows of weight_ih are the gates in torch's order i, f, g, o.")
    board.show("weight_ih (8 x 2)", w_ih)
    board.show("weight_hh (8 x 2)", w_hh)
    board.show("bias", b)
    h1, c1 = cell(x, (h0, c0))
    pre = x @ t(w_ih).T + h0 @ t(w_hh).T + t(b)
    i, f, g, o = (pre[:, k * 2:(k + 1) * 2] for k in range(4))
    i, f, g, o = F.sigmoid(i), F.sigmoid(f), F.tanh(g), F.sigmoid(o)
    board.step("The gates, from the notes' equations (with torch's biases)")
    for name, v, eq in (("i", i, "sigmoid(W_xi x + W_hi h + b_i)"), ("f", f, "sigmoid(W_xf x + W_hf h + b_f)"),
                        ("g", g, "tanh(W_xg x + W_hg h + b_g)"), ("o", o, "sigmoid(W_xo x + W_ho h + b_o)")):
        board.show(f"{name} = {eq}", v, key=name)
    c = f * c0 + i * g
    h = o * F.tanh(c)
    board.step("Cell and hidden state")
    board.show("c_t = f * c_(t-1) + i * g", c, key="c")
    board.show("h_t = o * tanh(c_t)", h, key="h")
    board.show("nn.LSTMCell's c_t", c1, key="cell_c")
    board.show("nn.LSTMCell's h_t", h1, key="cell_h")
    if not (np.allclose(c.numpy(), c1.numpy(), atol=1e-12) and np.allclose(h.numpy(), h1.numpy(), atol=1e-12)):
        raise AssertionError("the replayed LSTM step differs from nn.LSTMCell")
    board.step("The highway: dc_t/dc_(t-1) with h_(t-1) held fixed")
    J = jacobian(lambda cp: cell(x, (h0, cp))[1], c0).numpy().reshape(2, 2)
    board.show("jacobian(c_t, c_(t-1))", J, key="dc_dcprev")
    board.show("diag(f_t)", np.diag(f.numpy()[0]))
    board.note("The gates read h_(t-1), not c_(t-1), so within one step dc_t/dc_(t-1) = diag(f_t) exactly (the "
               "notes' 'very important' line). Across steps h_(t-1) itself depends on c_(t-2), which adds the "
               "notes' 'various' other terms.")
    board.note("The notes' gate equations have no biases; torch's have two per gate (b_ih + b_hh), set here as b "
               "and 0.")


@lesson("gru-step", "One GRU step, torch's form beside the notes' (which side the update gate weighs)",
        ("000", "Gated Recurrent Unit"), ("001", "GRU Architecture"))
def gru_step(board):
    w_ih, w_hh, b = _cell_weights(2, 2, 3)
    cell = nn.GRUCell(2, 2).double()
    cell.load_state_dict({"weight_ih": w_ih, "weight_hh": w_hh, "bias_ih": b, "bias_hh": np.zeros(6)})
    x, h0 = t([[1.0, -1.0]]), t([[0.1, -0.2]])
    board.say("A 2-unit nn.GRUCell with small fixed weights (chosen here), x = [1, -1], h_(t-1) = [0.1, -0.2]; "
              "the rows of weight_ih are torch's r, z, n.")
    h1 = cell(x, h0)
    Wi, Wh, bt = t(w_ih), t(w_hh), t(b)
    gi = x @ Wi.T + bt
    gh = h0 @ Wh.T
    r = F.sigmoid(gi[:, 0:2] + gh[:, 0:2])
    z = F.sigmoid(gi[:, 2:4] + gh[:, 2:4])
    n = F.tanh(gi[:, 4:6] + r * gh[:, 4:6])
    h = (1 - z) * n + z * h0
    board.step("torch's GRU (reset_after=True, the default)")
    board.show("r = sigmoid(W_ir x + b_ir + W_hr h)", r, key="r")
    board.show("z = sigmoid(W_iz x + b_iz + W_hz h)", z, key="z")
    board.show("n = tanh(W_in x + b_in + r * (W_hn h + b_hn))", n, key="n")
    board.show("h_t = (1 - z) * n + z * h_(t-1)", h, key="h")
    board.show("nn.GRUCell's h_t", h1, key="cell_h")
    if not np.allclose(h.numpy(), h1.numpy(), atol=1e-12):
        raise AssertionError("the replayed GRU step differs from nn.GRUCell")
    board.step("The notes' GRU (000), same weights")
    n_notes = F.tanh(gi[:, 4:6] + (r * h0) @ Wh[4:6].T)
    h_notes = h0 * (1 - z) + z * n_notes
    board.show("g_t = tanh(W x + W_h (r * h_(t-1)))", n_notes, key="n_notes")
    board.show("h_t = h_(t-1) * (1 - z) + z * g_t", h_notes, key="h_notes")
    board.note("Two differences. (1) Which side the update gate weighs: in the notes z_t weighs the NEW "
               "candidate, in torch it weighs the OLD state, h_t = (1 - z) n + z h_(t-1); the two are the same "
               "model with z renamed 1 - z. (2) Where the reset gate acts: the notes (and Cho et al. 2014) apply "
               "r before the recurrent product, W_h (r * h); torch applies it after, r * (W_h h + b_hn), which "
               "lets one matrix product serve all three gates. The transcript's z_t and g_t equations are "
               "garbled (they mix the weights' names); glassnet uses the standard forms.")
    if "reset_after" in inspect.signature(nn.GRUCell.__init__).parameters:
        before = nn.GRUCell(2, 2, reset_after=False).double()
        before.load_state_dict(cell.state_dict())
        h_before = before(x, h0)
        board.show("nn.GRUCell(reset_after=False)'s h_t", h_before, key="cell_h_reset_before")
        board.show("the notes' form with z -> 1 - z", h0 * z + (1 - z) * n_notes, key="notes_swapped")
