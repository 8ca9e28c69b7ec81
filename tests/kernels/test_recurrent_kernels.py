"""The recurrent step kernels (glassnet/kernels/recurrent.py), compiled and NumPy twin alike,
against the textbook loops in tests/functions/reference.py.

* every kernel, both twins, called through the whole-sequence primitives (forward and BPTT)
  over a grid of shapes, lengths, directions and biases, in float64 and in float32;
* each forward kernel called directly on one step;
* a speed guard: each compiled kernel beats its NumPy twin by a clear factor (a kernel that
  silently fell back to scalar code would not).
"""
import pathlib
import sys

import numpy as np
import pytest

from glassnet import kernels
from glassnet.functions import recurrent as R
from glassnet.kernels import recurrent as K

sys.path.insert(0, str(pathlib.Path(__file__).parents[1] / "functions"))
import reference as ref  # noqa: E402  (tests/functions/reference.py)
from speed_guard import best  # noqa: E402  (tests/speed_guard.py)

TWINS = ["numba", "numpy"]
SHAPES = [(1, 1, 1, 1), (3, 2, 3, 4), (5, 4, 2, 3)]                 # (T, N, I, H)
KINDS = ["tanh", "relu", "lstm", "gru", "gru_reset_before"]
GATES = {"tanh": 1, "relu": 1, "lstm": 4, "gru": 3, "gru_reset_before": 3}


@pytest.fixture
def twin(request, monkeypatch):
    """Make the primitives call one twin of every recurrent kernel, whatever the backend."""
    for name in K.KERNELS:
        monkeypatch.setattr(K, name, getattr(K, f"{name}_{request.param}"))
    return request.param


def _lengths(T, N, rng):
    lengths = rng.integers(0, T + 1, N)
    lengths[0] = T                       # one full sequence, and (N > 2) some of length 0
    return lengths


def _case(kind, T, N, I, H, bias, dtype, rng):
    G = GATES[kind]
    a = {"x": rng.standard_normal((T, N, I)), "h0": rng.standard_normal((N, H)),
         "W_ih": rng.standard_normal((G * H, I)) * 0.6, "W_hh": rng.standard_normal((G * H, H)) * 0.6,
         "b_ih": rng.standard_normal(G * H) if bias else None, "b_hh": rng.standard_normal(G * H) if bias else None,
         "dy": rng.standard_normal((T, N, H)), "dh_n": rng.standard_normal((N, H))}
    if kind == "lstm":
        a["c0"], a["dc_n"] = rng.standard_normal((N, H)), rng.standard_normal((N, H))
    return {k: (v.astype(dtype) if v is not None else None) for k, v in a.items()}


def _run_glassnet(kind, a, lengths, reverse):
    """Forward and backward of the primitive; every input's gradient."""
    fn = {"tanh": R.RNN, "relu": R.RNN, "lstm": R.LSTM, "gru": R.GRU, "gru_reset_before": R.GRU}[kind]
    node = fn()
    options = dict(lengths=lengths, reverse=reverse)
    if kind in ("tanh", "relu"):
        options["nonlinearity"] = kind
    if kind.startswith("gru"):
        options["reset_after"] = kind == "gru"
    states = (a["h0"], a["c0"]) if kind == "lstm" else (a["h0"],)
    inputs = (a["x"], *states, a["W_ih"], a["W_hh"], a["b_ih"], a["b_hh"])
    node.needs_input_grad = tuple(v is not None for v in inputs)
    outputs = node.forward(*inputs, **options)
    out_grads = (a["dy"], a["dh_n"], a["dc_n"]) if kind == "lstm" else (a["dy"], a["dh_n"])
    return outputs, node.backward(*out_grads)


def _run_reference(kind, a, lengths, reverse):
    """The reference loops, one sequence at a time (each cut to its length, flipped if reversed)."""
    T, N, _ = a["x"].shape
    f64 = {k: (v.astype(np.float64) if v is not None else None) for k, v in a.items()}
    y = np.zeros(f64["dy"].shape)
    finals = {"h": np.zeros(f64["h0"].shape), "c": np.zeros(f64["h0"].shape)}
    grads = {k: np.zeros_like(f64[k]) for k in ("x", "h0", "W_ih", "W_hh")}
    grads.update(c0=np.zeros(f64["h0"].shape), b_ih=np.zeros(f64["W_hh"].shape[0]),
                 b_hh=np.zeros(f64["W_hh"].shape[0]))
    W = (f64["W_ih"], f64["W_hh"], f64["b_ih"], f64["b_hh"])
    for n in range(N):
        L = T if lengths is None else int(lengths[n])
        steps = np.arange(L)[::-1] if reverse else np.arange(L)
        x, dy, h0 = f64["x"][steps, n:n + 1], f64["dy"][steps, n:n + 1], f64["h0"][n:n + 1]
        dh_n = f64["dh_n"][n:n + 1]
        if kind == "lstm":
            c0, dc_n = f64["c0"][n:n + 1], f64["dc_n"][n:n + 1]
            hs, cs, _ = ref.lstm_forward(x, h0, c0, *W)
            dx, dh0, dc0, dW_ih, dW_hh, db = ref.lstm_bptt(x, h0, c0, *W, dy, dh_n, dc_n)
            db_ih = db_hh = db
            finals["c"][n], grads["c0"][n] = cs[-1][0], dc0[0]
        elif kind.startswith("gru"):
            reset_after = kind == "gru"
            hs, _ = ref.gru_forward(x, h0, *W, reset_after=reset_after)
            dx, dh0, dW_ih, dW_hh, db_ih, db_hh = ref.gru_bptt(x, h0, *W, dy, dh_n, reset_after=reset_after)
        else:
            hs = ref.rnn_forward(x, h0, *W, nonlinearity=kind)
            dx, dh0, dW_ih, dW_hh, db = ref.rnn_bptt(x, h0, *W, dy, dh_n, nonlinearity=kind)
            db_ih = db_hh = db
        if L:
            y[steps, n] = np.concatenate(hs[1:])
            grads["x"][steps, n] = dx[:, 0]
        finals["h"][n], grads["h0"][n] = hs[-1][0], dh0[0]
        for key, g in (("W_ih", dW_ih), ("W_hh", dW_hh), ("b_ih", db_ih), ("b_hh", db_hh)):
            grads[key] += g
    return y, finals, grads


def _compare(kind, a, lengths, reverse, rtol, atol):
    (y, h_n, *c_n), grads = _run_glassnet(kind, a, lengths, reverse)
    y_ref, finals, g_ref = _run_reference(kind, a, lengths, reverse)
    np.testing.assert_allclose(y, y_ref, rtol=rtol, atol=atol, err_msg="y")
    np.testing.assert_allclose(h_n, finals["h"], rtol=rtol, atol=atol, err_msg="h_n")
    if c_n:
        np.testing.assert_allclose(c_n[0], finals["c"], rtol=rtol, atol=atol, err_msg="c_n")
    names = ["x", "h0", "c0", "W_ih", "W_hh", "b_ih", "b_hh"] if kind == "lstm" else \
        ["x", "h0", "W_ih", "W_hh", "b_ih", "b_hh"]
    for name, got in zip(names, grads):
        if a[name] is None:
            assert got is None, name
            continue
        assert got.dtype == a["x"].dtype, name
        np.testing.assert_allclose(got, g_ref[name], rtol=rtol, atol=atol, err_msg="d" + name)


@pytest.mark.parametrize("twin", TWINS, indirect=True)
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("reverse", [False, True], ids=["forward", "reverse"])
@pytest.mark.parametrize("with_lengths", [False, True], ids=["full", "lengths"])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "T{}N{}I{}H{}".format(*s))
@pytest.mark.parametrize("kind", KINDS)
def test_kernels_match_the_textbook_loop_float64(kind, shape, with_lengths, reverse, bias, twin):
    rng = np.random.default_rng(abs(hash((kind, shape, with_lengths, reverse, bias))) % 2**32)
    T, N, I, H = shape
    a = _case(kind, T, N, I, H, bias, np.float64, rng)
    lengths = _lengths(T, N, rng) if with_lengths else None
    _compare(kind, a, lengths, reverse, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("twin", TWINS, indirect=True)
@pytest.mark.parametrize("kind", KINDS)
def test_kernels_match_the_textbook_loop_float32(kind, twin):
    """float32 (the compiled kernels' rational tanh included) within float32 accuracy."""
    rng = np.random.default_rng(7)
    a = _case(kind, 6, 5, 4, 7, True, np.float32, rng)
    _compare(kind, a, np.array([6, 3, 6, 1, 5]), True, rtol=1e-4, atol=2e-5)


@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("T,N,I,GH", [(3, 2, 2, 12), (2, 3, 9, 12), (1, 1, 1, 1), (4, 5, 3, 4)],
                         ids=["narrow_inputs", "wide_inputs", "one", "I=3,GH=4"])
def test_products_over_all_steps(T, N, I, GH, bias):
    """project_steps: a_t = x_t W^T + b for every t; sum_over_steps: sum_t dA_t^T X_t and sum_t dA_t
    over rows, against the per-step sums, on both sides of the rule that folds the bias into the
    product (narrow inputs) or adds it after."""
    rng = np.random.default_rng(T * 100 + I * 10 + GH)
    X, W, dA = rng.standard_normal((T, N, I)), rng.standard_normal((GH, I)), rng.standard_normal((T, N, GH))
    b = rng.standard_normal(GH) if bias else None
    A = K.project_steps(X, W, b)
    for t in range(T):
        np.testing.assert_allclose(A[t], X[t] @ W.T + (b if bias else 0), rtol=1e-12, atol=1e-12)
    Hs = rng.standard_normal((T, N, GH + 1))                          # a second input, another width
    for inputs in ((X,), (X, Hs), (None, Hs), (X, None)):
        dWs, db = K.sum_over_steps(dA, inputs, bias=bias)
        assert len(dWs) == len(inputs)
        for dW, Xk in zip(dWs, inputs):
            if Xk is None:
                assert dW is None
                continue
            np.testing.assert_allclose(dW, sum(dA[t].T @ Xk[t] for t in range(T)), rtol=1e-12, atol=1e-12)
            assert dW.flags.c_contiguous
        if bias:
            np.testing.assert_allclose(db, sum(dA[t].sum(axis=0) for t in range(T)), rtol=1e-12, atol=1e-12)
        else:
            assert db is None
    assert K.sum_over_steps(dA, (None, None), bias=False) == ([None, None], None)
    _, db = K.sum_over_steps(dA, (None,), bias=True)                  # the bias alone
    np.testing.assert_allclose(db, dA.sum(axis=(0, 1)), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("which", TWINS)
def test_one_lstm_step_directly(which, dtype):
    """lstm_forward on one step: the gates, c_t and h_t of reference.lstm_step."""
    rng = np.random.default_rng(3)
    N, I, H = 3, 2, 5
    x, h, c = rng.standard_normal((N, I)), rng.standard_normal((N, H)), rng.standard_normal((N, H))
    W_ih, W_hh, b = rng.standard_normal((4 * H, I)), rng.standard_normal((4 * H, H)), rng.standard_normal(4 * H)
    (i, f, g, o), c_ref, h_ref = ref.lstm_step(x, h, c, W_ih, W_hh, b, None)
    cast = {k: v.astype(dtype) for k, v in dict(ax=x @ W_ih.T + b, ah=h @ W_hh.T, c_prev=c).items()}
    c_t, tanh_c, h_t = (np.empty((N, H), dtype) for _ in range(3))
    gates = cast["ax"].copy()                                       # in: the input side; out: the gates
    getattr(K, f"lstm_forward_{which}")(cast["ah"], cast["c_prev"], gates, c_t, tanh_c, h_t)
    tol = dict(rtol=1e-12, atol=1e-14) if dtype == np.float64 else dict(rtol=1e-5, atol=1e-6)
    stored = getattr(K, f"stored_gates_{which}")(gates, "lstm")      # each twin's own layout, as rows
    np.testing.assert_allclose(stored, np.concatenate([i, f, g, o], axis=1), **tol)
    np.testing.assert_allclose(c_t, c_ref, **tol)
    np.testing.assert_allclose(tanh_c, np.tanh(c_ref), **tol)
    np.testing.assert_allclose(h_t, h_ref, **tol)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("which", TWINS)
def test_one_gru_step_directly(which, dtype):
    """gru_forward on one step: the gates r, z, n (read back through stored_gates, whatever the
    twin's layout), u_n and h_t of reference.gru_step."""
    rng = np.random.default_rng(4)
    N, I, H = 3, 2, 5
    x, h = rng.standard_normal((N, I)), rng.standard_normal((N, H))
    W_ih, W_hh = rng.standard_normal((3 * H, I)), rng.standard_normal((3 * H, H))
    b_ih, b_hh = rng.standard_normal(3 * H), rng.standard_normal(3 * H)
    (r, z, n), h_ref = ref.gru_step(x, h, W_ih, W_hh, b_ih, b_hh)
    input_side = x @ W_ih.T + b_ih + np.concatenate([b_hh[:2 * H], np.zeros(H)])
    gates, ah, b_hn, h_prev = (a.astype(dtype) for a in (input_side, h @ W_hh.T, b_hh[2 * H:], h))
    un, h_t = np.empty((N, H), dtype), np.empty((N, H), dtype)
    getattr(K, f"gru_forward_{which}")(ah, b_hn, h_prev, gates, un, h_t)
    tol = dict(rtol=1e-12, atol=1e-14) if dtype == np.float64 else dict(rtol=1e-5, atol=1e-6)
    stored = getattr(K, f"stored_gates_{which}")(gates, "gru")
    np.testing.assert_allclose(stored, np.concatenate([r, z, n], axis=1), **tol)
    np.testing.assert_allclose(un, h @ W_hh[2 * H:].T + b_hh[2 * H:], **tol)
    np.testing.assert_allclose(h_t, h_ref, **tol)


@pytest.mark.parametrize("which", TWINS)
def test_float32_tanh_is_close_bounded_and_passes_nan(which):
    """The step kernels' float32 tanh (a rational approximation when compiled): within 4e-7 of
    tanh over a dense grid, never outside [-1, 1], exactly +-1 once saturated, NaN kept."""
    a = np.concatenate([np.linspace(-12, 12, 200_001), [7.9, 8.1, 9.5, 9.6, 1e4, -1e4, np.inf, -np.inf]])
    ax = a.astype(np.float32)[None, :]
    h = np.empty_like(ax)
    getattr(K, f"rnn_tanh_forward_{which}")(ax, np.zeros_like(ax), h)
    assert np.abs(h.astype(np.float64) - np.tanh(ax.astype(np.float64))).max() < 4e-7
    assert (np.abs(h) <= 1).all()
    np.testing.assert_array_equal(h[0, -4:], [1, -1, 1, -1])
    nan = np.full((1, 3), np.nan, np.float32)
    getattr(K, f"rnn_tanh_forward_{which}")(nan, np.zeros_like(nan), h[:, :3])
    assert np.isnan(h[:, :3]).all()


@pytest.mark.parametrize("which", TWINS)
def test_saturated_gates_stay_finite(which):
    """Pre-activations of +-1e4 give gates of exactly 0 and 1, no nan and no warning."""
    N, H = 2, 3
    ax = np.tile(np.repeat(np.array([1e4, -1e4, 1e4, -1e4], np.float32), H), (N, 1))   # i, f, g, o
    zeros = np.zeros((N, 4 * H), np.float32)
    c, tanh_c, h = (np.empty((N, H), np.float32) for _ in range(3))
    gates = ax
    with np.errstate(all="raise"):
        getattr(K, f"lstm_forward_{which}")(zeros, np.ones((N, H), np.float32), gates, c, tanh_c, h)
    gates = getattr(K, f"stored_gates_{which}")(gates, "lstm")
    np.testing.assert_array_equal(gates[:, :H], 1)          # i
    np.testing.assert_array_equal(gates[:, H:2 * H], 0)     # f
    np.testing.assert_array_equal(gates[:, 2 * H:3 * H], 1)  # g
    np.testing.assert_array_equal(gates[:, 3 * H:], 0)      # o
    np.testing.assert_array_equal(c, 1)


def _speed_args(name, N, H, dtype, rng):
    """Arguments of a realistic size for each kernel (by its signature)."""
    def m(*shape):
        return rng.standard_normal(shape).astype(dtype) * 0.5

    def unit(*shape):                                       # gate values in (0, 1)
        return rng.uniform(0.05, 0.95, shape).astype(dtype)
    return {
        "rnn_tanh_forward": lambda: (m(N, H), m(N, H), m(N, H)),
        "rnn_relu_forward": lambda: (m(N, H), m(N, H), m(N, H)),
        "rnn_tanh_backward": lambda: (m(N, H), m(N, H), m(N, H), m(N, H)),
        "rnn_relu_backward": lambda: (m(N, H), m(N, H), m(N, H), m(N, H)),
        "lstm_forward": lambda: (m(N, 4 * H), m(N, H), m(N, 4 * H), m(N, H), m(N, H), m(N, H)),
        "lstm_backward": lambda: (m(N, H), m(N, H), m(N, H), m(N, H), unit(N, 4 * H), m(N, H), m(N, 4 * H)),
        "gru_forward": lambda: (m(N, 3 * H), m(H), m(N, H), m(N, 3 * H), m(N, H), m(N, H)),
        "gru_backward": lambda: (m(N, H), m(N, H), m(N, H), m(N, H), unit(N, 3 * H), m(N, H), m(N, 3 * H),
                                 m(N, 3 * H)),
        "gru_reset_update_forward": lambda: (m(N, 3 * H), m(N, 2 * H), m(N, H), m(N, 3 * H), m(N, H)),
        "gru_candidate_forward": lambda: (m(N, 3 * H), m(N, H), m(N, H), unit(N, 3 * H), m(N, H)),
        "gru_candidate_backward": lambda: (m(N, H), m(N, H), m(N, H), m(N, H), unit(N, 3 * H), m(N, 3 * H)),
        "gru_reset_backward": lambda: (m(N, H), m(N, H), unit(N, 3 * H), m(N, 3 * H), m(N, H)),
    }[name]()


@pytest.mark.skipif(kernels.BACKEND != "numba", reason="compiled kernels need GLASSNET_KERNELS=numba")
@pytest.mark.parametrize("name", K.KERNELS)
def test_compiled_kernel_is_faster_than_its_numpy_twin(name):
    """float32 at a moderate size (64 sequences x 256 units), best of several repeats."""
    args = _speed_args(name, 64, 256, np.float32, np.random.default_rng(0))
    compiled_args, twin_args = [a.copy() for a in args], [a.copy() for a in args]
    compiled = best(lambda: getattr(K, name + "_numba")(*compiled_args), calls=20)
    twin = best(lambda: getattr(K, name + "_numpy")(*twin_args), calls=20)
    assert twin / compiled > 1.5, f"{name}: compiled {compiled * 1e6:.0f} us, NumPy {twin * 1e6:.0f} us"
