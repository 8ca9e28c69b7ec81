"""Each lesson's numbers against an independent NumPy computation written here (never by calling
glassnet), and its printed text against the notes' numbers."""
from __future__ import annotations

import functools
import math

import numpy as np
import pytest

import glassnet as gn

sig = lambda z: 1.0 / (1.0 + np.exp(-z))  # noqa: E731


@functools.lru_cache(maxsize=None)
def run(name):
    return gn.lessons.run(name)


def xcorr(x, k, stride=1, pad=0, bias=0.0):
    """Plain loops: the textbook cross-correlation."""
    x = np.pad(np.asarray(x, float), pad)
    k = np.asarray(k, float)
    kh, kw = k.shape
    H, W = (x.shape[0] - kh) // stride + 1, (x.shape[1] - kw) // stride + 1
    out = np.zeros((H, W))
    for i in range(H):
        for j in range(W):
            out[i, j] = sum(x[i * stride + a, j * stride + b] * k[a, b] for a in range(kh) for b in range(kw)) + bias
    return out


def printed(name, *numbers):
    text = run(name).text
    for n in numbers:
        assert n in text, f"lesson {name}: {n!r} not in its text"


def test_neuron():
    v = run("neuron").values
    assert v["a"] == pytest.approx(sig(0.2))
    z3 = 0.5 * 1 - 0.25 * 2 + 0.1 * 3 + 0.2
    assert v["z3"] == pytest.approx(z3)
    assert v["a3"] == pytest.approx(sig(z3))
    printed("neuron", "0.55", "0.5498")


def test_sigmoid_chain_forward_loss_backward_update():
    v = run("sigmoid-chain").values
    a1 = sig(0.2)
    a2 = sig(np.array([0.2, 0.4]) * a1)
    z3 = 0.1 * a2[0] + 0.2 * a2[1]
    y = sig(z3)
    assert v["a1"] == pytest.approx(a1)
    np.testing.assert_allclose(v["a2"].ravel(), a2)
    assert v["y_hat"] == pytest.approx(y)
    assert v["loss_ln"] == pytest.approx(-np.log(1 - y))
    assert v["loss_log10"] == pytest.approx(-np.log10(1 - y))
    dz3 = y - 0.0
    dW3 = dz3 * a2
    dz2 = dz3 * np.array([0.1, 0.2]) * a2 * (1 - a2)
    dW2 = dz2 * a1
    dz1 = (dz2 * np.array([0.2, 0.4])).sum() * a1 * (1 - a1)
    np.testing.assert_allclose(v["dW3"], dW3)
    np.testing.assert_allclose(v["dW2"], dW2)
    np.testing.assert_allclose(v["dW1"], [dz1 * 1.0])
    np.testing.assert_allclose(np.ravel(v["W3_new"]), np.array([0.1, 0.2]) - 0.5 * dW3)
    printed("sigmoid-chain", "0.5498", "0.5275", "0.5548", "0.5408", "0.7783", "0.337", "0.337242168",
            "0.55", "0.53", "0.54", "0.163")


def test_activation_slopes():
    v = run("activation-slopes").values
    assert v["max_sigmoid"] == pytest.approx(0.25)
    assert v["max_tanh"] == pytest.approx(1.0)
    z = -3.0
    expected = [sig(z) * (1 - sig(z)), 1 - np.tanh(z) ** 2, 0.0, 0.01, np.exp(z)]
    np.testing.assert_allclose(v["slopes_at_-3"], expected, rtol=1e-3)
    printed("activation-slopes", "0.25", "ELU > leaky ReLU > ReLU > tanh > sigmoid")


def test_tanh_derivative():
    v = run("tanh-derivative").values
    z = v["z"]
    np.testing.assert_allclose(v["autograd"], 1 - np.tanh(z) ** 2)
    th = np.tanh(0.5)
    assert f"{(1 - th ** 2) / (1 + th ** 2):.4f}" in run("tanh-derivative").text
    assert len(run("tanh-derivative").disagreements) == 1


def test_relu_at_zero():
    v = run("relu-at-zero").values
    np.testing.assert_array_equal(v["slopes"], [0, 0, 1])
    assert [c.notes for c in run("relu-at-zero").disagreements] == ["1"]


def test_softmax_jacobian():
    v = run("softmax-jacobian").values
    a = np.array([1.0, 2.0, 0.5])
    p = np.exp(a) / np.exp(a).sum()
    np.testing.assert_allclose(v["p"], p)
    np.testing.assert_allclose(v["jacobian"], np.diag(p) - np.outer(p, p), atol=1e-15)
    np.testing.assert_allclose(v["ce_grad"], p - np.eye(3)[1])


def test_conv_intro():
    np.testing.assert_array_equal(run("conv-intro").values["y"], xcorr(np.arange(9.0).reshape(3, 3), [[0, 1], [2, 3]]))
    printed("conv-intro", "19 25; 37 43", "4*3")


def test_conv_slash_filters():
    v = run("conv-slash-filters").values
    img = [[-1, -1, 1], [-1, 1, -1], [1, -1, -1]]
    fwd = xcorr(img, [[-1, 1], [1, -1]])
    np.testing.assert_array_equal(v["fwd_map"], fwd)
    np.testing.assert_array_equal(v["back_map"], xcorr(img, [[1, -1], [-1, 1]]))
    assert v["fwd_pool"] == np.maximum(fwd, 0).max() == 4
    printed("conv-slash-filters", "-2 4; 4 -2", "2 0; 0 2")


def test_conv_vertical_edge():
    x = [[10, 10, 10, 0, 0, 0]] * 6
    np.testing.assert_array_equal(run("conv-vertical-edge").values["y"], xcorr(x, [[1, 0, -1]] * 3))
    printed("conv-vertical-edge", "0 30 30 0")


def test_conv_5x5_window():
    x = [[7, 2, 3, 3, 8], [4, 5, 3, 8, 4], [3, 3, 2, 8, 4], [2, 8, 7, 2, 7], [5, 4, 4, 5, 4]]
    np.testing.assert_array_equal(run("conv-5x5-window").values["y"], xcorr(x, [[1, 0, -1]] * 3))
    assert run("conv-5x5-window").values["y00"] == 6


def test_conv_3x3_bias():
    y = xcorr([[2, 2, 1], [3, 1, -1], [4, 3, 2]], [[1, -1], [-1, 0]], bias=2)
    np.testing.assert_array_equal(run("conv-3x3-bias").values["y"], y)
    printed("conv-3x3-bias", "-1 2; 0 1")


def test_conv_6x6_stride():
    img = [[1, 0, 0, 0, 0, 1], [0, 1, 0, 0, 1, 0], [0, 0, 1, 1, 0, 0],
           [1, 0, 0, 0, 1, 0], [0, 1, 0, 0, 1, 0], [0, 0, 1, 0, 1, 0]]
    diag = [[1, -1, -1], [-1, 1, -1], [-1, -1, 1]]
    v = run("conv-6x6-stride").values
    np.testing.assert_array_equal(v["f1_s1"], xcorr(img, diag))
    np.testing.assert_array_equal(v["f2_s1"], xcorr(img, [[-1, 1, -1]] * 3))
    np.testing.assert_array_equal(v["f1_s2"], xcorr(img, diag, stride=2))
    assert [c.notes for c in run("conv-6x6-stride").disagreements] == ["3 -1; 3 1"]


def test_conv_rgb():
    v = run("conv-rgb").values
    red = np.array([[0, 0, 0], [0, 156, 155], [0, 153, 154]])
    green = np.array([[0, 0, 0], [0, 167, 166], [0, 164, 165]])
    blue = np.array([[0, 0, 0], [0, 163, 162], [0, 160, 161]])
    ks = [np.array(k) for k in ([[-1, -1, 1], [0, 1, -1], [0, 1, 1]], [[1, 0, 0], [1, -1, -1], [1, 0, -1]],
                                [[0, 1, 1], [0, 1, 0], [1, -1, 1]])]
    parts = [(c * k).sum() for c, k in zip((red, green, blue), ks)]
    assert [v["red"], v["green"], v["blue"]] == parts
    assert v["y00"] == sum(parts) + 1 == -25
    printed("conv-rgb", "308", "-498", "164", "-25")


def test_conv_sharpen():
    img = [[105, 102, 100, 97, 96], [103, 99, 103, 101, 102], [101, 98, 104, 102, 100],
           [99, 101, 106, 104, 99], [104, 104, 104, 100, 98]]
    k = [[0, -1, 0], [-1, 5, -1], [0, -1, 0]]
    v = run("conv-sharpen").values
    np.testing.assert_array_equal(v["y_s1"], xcorr(img, k, pad=1))
    np.testing.assert_array_equal(v["y_s2"], xcorr(img, k, stride=2, pad=1))
    printed("conv-sharpen", "320")


def test_conv_padded_179():
    img = [[50, 60, 10, 50], [180, 119, 237, 180], [180, 119, 233, 200], [50, 60, 10, 50]]
    np.testing.assert_array_equal(run("conv-padded-179").values["y"], xcorr(img, [[1, 0, 1]] * 3, pad=1))
    printed("conv-padded-179", "179")


def test_weighted_average_1d():
    w = [0.01, 0.01, 0.02, 0.02, 0.04, 0.4, 0.5]
    x = [1.00, 1.10, 1.20, 1.40, 1.70, 1.80, 1.90, 2.10, 2.20, 2.40, 2.50, 2.70]
    s = [sum(x[t - a] * w[6 - a] for a in range(7)) for t in range(6, 12)]
    np.testing.assert_allclose(run("weighted-average-1d").values["s"], s)
    printed("weighted-average-1d", "1.80", "1.96", "2.11", "2.16", "2.28", "2.42")
    assert len(run("weighted-average-1d").disagreements) == 5     # all but 2.11


def test_output_size():
    from glassnet.lessons.output_size import CASES
    v = run("output-size").values
    expected = [math.floor((w - f + 2 * p) / s) + 1 for _, w, f, p, s, _, _ in CASES]
    np.testing.assert_array_equal(v["sizes"], expected)
    np.testing.assert_allclose(v["formulas"], [(w - f + 2 * p) / s + 1 for _, w, f, p, s, _, _ in CASES])
    printed("output-size", "5/3", "5/2", "55", "27", "13", "Not an integer")


def test_cnn_39x39():
    w = 39
    for f, s in ((3, 1), (5, 2), (5, 2)):
        w = (w - f) // s + 1
    assert run("cnn-39x39").values["features"] == w * w * 40 == 1960


def test_pooling_kinds():
    x = np.array([[1, 4, 2, 1], [5, 8, 3, 4], [7, 6, 4, 5], [1, 3, 1, 2]], float)
    blocks = x.reshape(2, 2, 2, 2).transpose(0, 2, 1, 3).reshape(2, 2, 4)
    v = run("pooling-kinds").values
    np.testing.assert_array_equal(v["max"], blocks.max(-1))
    np.testing.assert_array_equal(v["average"], blocks.mean(-1))
    np.testing.assert_array_equal(v["min"], blocks.min(-1))
    np.testing.assert_array_equal(v["sum"], blocks.sum(-1))
    assert v["global_max"] == x.max() and v["global_avg"] == x.mean()


def test_max_pool_windows():
    x = np.array([[1, 2, 6, 7], [-4, 5, 0, 1], [1, 3, 1, 1], [3, 3, 2, 1]], float)
    v = run("max-pool-windows").values
    np.testing.assert_array_equal(v["y"], x.reshape(2, 2, 2, 2).max(axis=(1, 3)))
    assert v["grad"].sum() == 4 and v["grad"][1, 1] == 1 and v["grad"][0, 3] == 1
    printed("max-pool-windows", "5", "7")


def test_params_conv_32x32x3():
    v = run("params-conv-32x32x3").values
    assert v["total"] == 6 * (5 * 5 * 3 + 1) == 456
    assert v["gray_total"] == 6 * (5 * 5 + 1) == 156
    printed("params-conv-32x32x3", "156", "26")


def test_params_conv_256():
    v = run("params-conv-3x3x256x256").values
    assert v["weights"] == 256 * 256 * 3 * 3 and v["params"] == 256 * 256 * 9 + 256


def test_params_alexnet():
    v = run("params-alexnet").values
    layers = [(11 * 11 * 3 * 96, 96), (5 * 5 * 96 * 256, 256), (3 * 3 * 256 * 384, 384),
              (3 * 3 * 384 * 384, 384), (3 * 3 * 384 * 256, 256), (6 * 6 * 256 * 4096, 4096),
              (4096 * 4096, 4096), (4096 * 1000, 1000)]
    assert v["total"] == sum(w + b for w, b in layers) == 62_378_344
    assert v["layers"]["fc1"] == 6 * 6 * 256 * 4096 + 4096
    printed("params-alexnet", "62,378,344", "37,752,832")


def test_rnn_161():
    n = next(n for n in range(2, 40, 2) if n * (n // 2) + (n // 2) ** 2 + (n // 2) * 2 >= 161)
    v = run("rnn-161").values
    assert v["n"] == n == 14 and v["weights"] == 161


def test_rnn_shapes():
    v = run("rnn-shapes").values
    assert (v["U_count"], v["W_count"], v["V_count"]) == (784 * 200, 200 * 200, 200 * 2)
    assert v["total"] == 784 * 200 + 200 * 200 + 2 * 200 + 200 * 2 + 2


def test_cnn_toy():
    X = np.array([[0, 2, 0, 0, 2], [0, 0, 0, 2, 0], [2, 1, 2, 0, 0], [2, 2, 1, 1, 0], [1, 2, 2, 1, 0]], float)
    F1 = [[-1, 0, -1], [1, 1, -1], [-1, 1, -1]]
    F2 = [[-1, -1, 0], [0, 1, 1], [-1, 0, 1]]
    z1, z2 = xcorr(X, F1, 2, 1, 1.0), xcorr(X, F2, 2, 1, 0.0)
    v = run("cnn-toy").values
    np.testing.assert_array_equal(v["z1"], z1)
    np.testing.assert_array_equal(v["z2"], z2)
    m1, m2 = np.maximum(z1, 0).max(), np.maximum(z2, 0).max()
    fz = 0.3 - 1 * m1 + 0.2 * m2
    y = sig(fz)
    assert (v["mz1"], v["mz2"]) == (m1, m2) == (2, 5)
    assert v["y"] == pytest.approx(y)
    # dL/dtheta_11 with L = -ln y: (y - 1) * w1 * x at the max window's centre (padded (3, 1) = X[2, 0])
    grad = (y - 1) * -1.0 * X[2, 0]
    assert v["dtheta11"] == pytest.approx(grad)
    assert v["y_after_sgd"] > y > v["y_after_notes"]
    printed("cnn-toy", "-1 1 1; 2 0 -2; -2 1 1", "2 2 0; 5 1 -3; 1 0 -1", "0.332", "1.336", "-1.336",
            "mz1", "no minus sign")


def test_batch_norm():
    x = np.array([[[[1.0, 2.0], [3.0, 4.0]], [[0.0, 1.0], [0.0, 1.0]]],
                  [[[5.0, 6.0], [7.0, 8.0]], [[2.0, 3.0], [2.0, 3.0]]]])
    mu = x.mean(axis=(0, 2, 3))
    var = x.var(axis=(0, 2, 3))
    y = (x - mu[None, :, None, None]) / np.sqrt(var + 1e-5)[None, :, None, None]
    y = y * np.array([2.0, 0.5])[None, :, None, None] + np.array([1.0, -1.0])[None, :, None, None]
    v = run("batch-norm").values
    np.testing.assert_allclose(v["mu"], mu)
    np.testing.assert_allclose(v["var"], var)
    np.testing.assert_allclose(v["y"], y, rtol=1e-12)
    np.testing.assert_allclose(v["running_var"], 0.9 + 0.1 * x.var(axis=(0, 2, 3), ddof=1))


def test_dropout():
    v = run("dropout").values
    np.testing.assert_allclose(v["y"], v["x"] * v["mask"] / 0.5)
    np.testing.assert_array_equal(v["y_eval"], v["x"])
    assert 0.9 < v["mean_inverted"] < 1.1
    assert v["p_visible"] == pytest.approx(0.2)
    printed("dropout", "0.8", "0.5", "DROPPED", "RETAINED")


def test_rnn_bptt():
    w, u, y = 0.5, 1.0, 0.5
    h = [0.0]
    for x in (1.0, 0.5, -1.0):
        h.append(np.tanh(w * h[-1] + u * x))
    # reverse-mode by hand, independent of the lesson's path sum
    dh = h[3] - y
    dw = 0.0
    for k in (3, 2, 1):
        dz = dh * (1 - h[k] ** 2)
        dw += dz * h[k - 1]
        dh = dz * w
    v = run("rnn-bptt").values
    np.testing.assert_allclose(v["h"], h[1:])
    assert v["autograd"] == pytest.approx(dw) and v["bptt_sum"] == pytest.approx(dw)
    assert v["terms"].sum() == pytest.approx(dw)


def test_vanishing_gradients():
    v = run("vanishing-gradients").values
    assert v["lambda_small"] == pytest.approx(0.6) and v["lambda_large"] == pytest.approx(1.5)
    np.testing.assert_allclose(v["bounds_small"], 0.6 ** np.array([1, 5, 10, 20]))
    assert np.all(v["norms_small"] <= v["bounds_small"]) and np.all(v["norms_large"] <= v["bounds_large"])
    assert v["norms_small"][-1] < 1e-6 < v["norms_large"][-1]


def test_gradient_clipping():
    g = np.array([0.3, -1.2, 0.9, 0.5])
    v = run("gradient-clipping").values
    np.testing.assert_allclose(v["by_value"], np.clip(g, -0.7, 0.7))
    np.testing.assert_allclose(v["by_norm"], g * 0.7 / (np.linalg.norm(g) + 1e-6))
    assert v["norm_before"] == pytest.approx(np.linalg.norm(g))
    printed("gradient-clipping", "0.7", "0.3 -1.2 0.7 0.5")


def _cell_weights(hidden, inputs, gates):
    n = gates * hidden
    w_ih = np.round(np.sin(np.arange(n * inputs) + 1.0).reshape(n, inputs) * 0.5, 2)
    w_hh = np.round(np.cos(np.arange(n * hidden) + 1.0).reshape(n, hidden) * 0.5, 2)
    return w_ih, w_hh, np.round(np.linspace(-0.2, 0.3, n), 2)


def test_lstm_step():
    w_ih, w_hh, b = _cell_weights(2, 2, 4)
    x, h0, c0 = np.array([1.0, -1.0]), np.array([0.1, -0.2]), np.array([0.5, -0.3])
    pre = w_ih @ x + w_hh @ h0 + b
    i, f, g, o = sig(pre[0:2]), sig(pre[2:4]), np.tanh(pre[4:6]), sig(pre[6:8])
    c = f * c0 + i * g
    v = run("lstm-step").values
    np.testing.assert_allclose(v["cell_c"].ravel(), c)
    np.testing.assert_allclose(v["cell_h"].ravel(), o * np.tanh(c))
    np.testing.assert_allclose(v["dc_dcprev"], np.diag(f))


def test_gru_step():
    w_ih, w_hh, b = _cell_weights(2, 2, 3)
    x, h0 = np.array([1.0, -1.0]), np.array([0.1, -0.2])
    gi, gh = w_ih @ x + b, w_hh @ h0
    r, z = sig(gi[0:2] + gh[0:2]), sig(gi[2:4] + gh[2:4])
    n = np.tanh(gi[4:6] + r * gh[4:6])
    n_notes = np.tanh(gi[4:6] + w_hh[4:6] @ (r * h0))
    v = run("gru-step").values
    np.testing.assert_allclose(v["cell_h"].ravel(), (1 - z) * n + z * h0)
    np.testing.assert_allclose(v["h_notes"].ravel(), h0 * (1 - z) + z * n_notes)


def test_cost_functions():
    v = run("cost-functions").values
    assert v["mean_error"] == 0.0 and v["mse"] == pytest.approx(((3 - 2) ** 2 + (1 - 2) ** 2) / 2)
    o, t_ = np.array([0.9, 0.2, 0.6]), np.array([1.0, 0.0, 1.0])
    assert v["bce"] == pytest.approx(-np.mean(t_ * np.log(o) + (1 - t_) * np.log(1 - o)))
    z = np.array([2.0, 0.5, -1.0])
    assert v["cce"] == pytest.approx(-np.log(np.exp(z[0]) / np.exp(z).sum()))


def test_image_kernels():
    image = np.zeros((7, 7))
    image[:, 4:] = 10.0
    image[2:5, 1:3] = 10.0
    gauss = np.array([[2, 4, 5, 4, 2], [4, 9, 12, 9, 4], [5, 12, 15, 12, 5], [4, 9, 12, 9, 4], [2, 4, 5, 4, 2]])
    sobel_x = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]])
    v = run("image-kernels").values
    assert v["gauss_sum"] == gauss.sum() == 159
    np.testing.assert_allclose(v["blurred"], xcorr(image, gauss / 159.0, pad=2))
    np.testing.assert_allclose(v["laplace4"], xcorr(image, [[0, -1, 0], [-1, 4, -1], [0, -1, 0]], pad=1))
    np.testing.assert_allclose(v["sobel_x"], xcorr(image, sobel_x, pad=1))
    np.testing.assert_allclose(v["sobel_y"], xcorr(image, sobel_x.T, pad=1))


def test_gru_step_reset_before_is_the_notes_form_with_z_renamed():
    v = run("gru-step").values
    if "cell_h_reset_before" not in v:
        pytest.skip("nn.GRUCell has no reset_after argument in this tree")
    w_ih, w_hh, b = _cell_weights(2, 2, 3)
    x, h0 = np.array([1.0, -1.0]), np.array([0.1, -0.2])
    gi, gh = w_ih @ x + b, w_hh @ h0
    r, z = sig(gi[0:2] + gh[0:2]), sig(gi[2:4] + gh[2:4])
    n = np.tanh(gi[4:6] + w_hh[4:6] @ (r * h0))
    np.testing.assert_allclose(v["cell_h_reset_before"].ravel(), (1 - z) * n + z * h0)
    np.testing.assert_allclose(v["notes_swapped"].ravel(), (1 - z) * n + z * h0)
