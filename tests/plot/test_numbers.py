"""gn.plot's number helpers, checked against values computed by hand (no matplotlib needed)."""
import numpy as np
import pytest

import glassnet as gn
import glassnet.nn as nn
from glassnet import plot
from glassnet.report.gradient_flow import LayerGradients, from_history


def test_confusion_matrix_counts_by_hand():
    target = [0, 0, 1, 1, 2, 2, 2]
    predicted = [0, 1, 1, 1, 2, 0, 2]
    # true 0: one right, one called 1; true 1: both right; true 2: two right, one called 0
    expected = np.array([[1, 1, 0], [0, 2, 0], [1, 0, 2]])
    np.testing.assert_array_equal(plot.confusion_matrix(target, predicted), expected)
    np.testing.assert_allclose(plot.per_class_accuracy(expected), [1 / 2, 2 / 2, 2 / 3])
    assert plot.confusion_matrix(gn.tensor([1]), gn.tensor([1]), num_classes=4).shape == (4, 4)


def test_confusion_matrix_refuses_bad_labels():
    with pytest.raises(ValueError, match="same length, got 2 and 1"):
        plot.confusion_matrix([0, 1], [0])
    with pytest.raises(ValueError, match=r"0..1 \(num_classes=2\), got 0..2"):
        plot.confusion_matrix([0, 1], [0, 2], num_classes=2)
    with pytest.raises(ValueError, match="class indices"):
        plot.confusion_matrix([0.5, 1.0], [0, 1])


def test_per_class_accuracy_of_a_class_never_seen_is_nan():
    acc = plot.per_class_accuracy(np.array([[2, 0], [0, 0]]))
    assert acc[0] == 1 and np.isnan(acc[1])


def test_smooth_is_a_bias_corrected_moving_average():
    # m1 = 0.1 * 1 -> 0.1 / (1 - 0.9) = 1;  m2 = 0.9 * 0.1 + 0.1 * 0 = 0.09 -> 0.09 / (1 - 0.81)
    np.testing.assert_allclose(plot.smooth([1.0, 0.0], 0.9), [1.0, 0.09 / 0.19])
    np.testing.assert_allclose(plot.smooth([3.0] * 5), [3.0] * 5)


def test_filter_images_have_the_layers_shape():
    conv = nn.Conv2d(1, 6, 5)
    images = plot.filter_images(conv)
    assert images.shape == (6, 5, 5)
    np.testing.assert_array_equal(images, conv.weight.numpy()[:, 0])
    rgb = nn.Conv2d(3, 4, 3)
    np.testing.assert_allclose(plot.filter_images(rgb), rgb.weight.numpy().mean(axis=1))
    dense = nn.Linear(64, 16)
    np.testing.assert_array_equal(plot.filter_images(dense), dense.weight.numpy().reshape(16, 8, 8))
    with pytest.raises(ValueError, match="image_shape"):
        plot.filter_images(nn.Linear(10, 3))


def test_mosaic_places_and_scales_each_tile():
    tiles = np.stack([np.full((2, 2), 4.0), np.full((2, 2), -0.5), np.eye(2)])
    m = plot.mosaic(tiles)                           # 3 tiles -> 2 columns, 2 rows, 1-pixel gaps
    assert m.shape == (5, 5)
    np.testing.assert_array_equal(m[:2, :2], 1.0)    # 4 / 4
    np.testing.assert_array_equal(m[:2, 3:], -1.0)   # -0.5 / 0.5
    np.testing.assert_array_equal(m[3:, :2], np.eye(2))
    assert np.isnan(m[2]).all() and np.isnan(m[:, 2]).all() and np.isnan(m[3:, 3:]).all()


def test_conv_outputs_are_the_conv_layers_outputs():
    gn.manual_seed(0)
    model = gn.models.digits_cnn()
    X, _ = gn.data.load_digits(images=True)
    outputs = plot.conv_outputs(model, X[3])
    assert [name for name, _ in outputs] == ["features.0", "features.3"]
    assert outputs[0][1].shape == (32, 8, 8) and outputs[1][1].shape == (64, 8, 8)
    first = model.features[0]
    x = X.numpy()[3, 0]
    padded = np.pad(x, 1)
    by_hand = np.array([[(padded[i:i + 3, j:j + 3] * first.weight.numpy()[5, 0]).sum() for j in range(8)]
                        for i in range(8)])
    np.testing.assert_allclose(outputs[0][1][5], by_hand, rtol=1e-5, atol=1e-6)
    assert model.training                              # mode restored


def test_layer_gradients_mean_over_steps_and_max():
    w, b = nn.Parameter(gn.zeros(2, 2)), nn.Parameter(gn.zeros(2))
    rec = LayerGradients()
    for grad in ([[1.0, -1.0], [3.0, -3.0]], [[0.0, 0.0], [0.0, -6.0]]):
        w.grad, b.grad = gn.tensor(grad), gn.tensor([9.0, 9.0])
        rec.add([("fc.weight", w), ("fc.bias", b)])
    record = rec.epoch_record()
    assert record == {"grad_mean/fc.weight": (2.0 + 1.5) / 2, "grad_max/fc.weight": 6.0}   # biases left out
    assert rec.epoch_record() == {}                                                         # reset


def test_vanished_layers_flags_a_layer_far_below_the_largest():
    history = {"grad_mean/0.weight": [1e-3, 1e-10], "grad_max/0.weight": [1e-2, 1e-9],
               "grad_mean/2.weight": [1e-2, 1e-2], "grad_max/2.weight": [1e-1, 1e-1]}
    assert plot.vanished_layers(history) == ["0.weight"]
    assert plot.vanished_layers(history, epoch=0) == []
    names, means, maxes = from_history(history)
    assert names == ["0.weight", "2.weight"] and means.shape == (2, 2) and maxes[1, 0] == 1e-9


def test_trainer_records_step_losses_and_layer_gradients():
    gn.manual_seed(0)
    X, y = gn.randn(40, 4), gn.randint(0, 3, (40,))
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    trainer = gn.Trainer(model, gn.optim.SGD(model.parameters(), lr=0.1), nn.CrossEntropyLoss(),
                         progress=False, verbose=False)
    history = trainer.fit((X, y), epochs=3, batch_size=10, shuffle=False)
    assert len(history["step_loss"]) == 12
    np.testing.assert_allclose(np.mean(history["step_loss"][:4]), history["loss"][0], rtol=1e-6)
    assert sorted(k for k in history if k.startswith("grad_")) == [
        "grad_max/0.weight", "grad_max/2.weight", "grad_mean/0.weight", "grad_mean/2.weight"]
    assert all(len(history[k]) == 3 and min(history[k]) > 0 for k in history if k.startswith("grad_"))


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_recurrent_trace_replays_the_fused_layer(kind):
    gn.manual_seed(1)
    layer = getattr(nn, kind)(3, 5, batch_first=True)
    x = gn.randn(1, 7, 3)
    trace = plot.recurrent_trace(layer, x)
    assert trace["h"].shape == (7, 5) and trace["max_difference"] < 1e-5
    for name, values in trace["gates"].items():
        assert values.shape == (7, 5)
        if name[0] in "ifozr":
            assert values.min() > 0 and values.max() < 1        # sigmoid gates
    if kind == "LSTM":
        np.testing.assert_allclose(trace["h"], trace["gates"]["o (output)"] * np.tanh(trace["c"]), rtol=1e-12)


def test_recurrent_trace_finds_the_layer_inside_a_model():
    gn.manual_seed(0)
    model = gn.models.RowSequenceClassifier(8, 6, 10, cell="gru")
    X, _ = gn.data.load_digits(images=True)
    trace = plot.recurrent_trace(model, X[0])
    assert trace["kind"] == "GRU" and trace["h"].shape == (8, 6) and trace["max_difference"] < 1e-5


def test_activation_derivatives_come_from_backward():
    z = np.linspace(-3, 3, 13)
    s, ds = plot.activation_curve("Sigmoid", z)
    np.testing.assert_allclose(ds, s * (1 - s), rtol=1e-12)
    assert abs(ds.max() - 0.25) < 1e-12                          # at z = 0, the notes' 1/4
    _, drelu = plot.activation_curve("ReLU", z[z != 0])
    np.testing.assert_array_equal(drelu, (z[z != 0] > 0).astype(float))
    _, delu = plot.activation_curve("ELU", np.array([-1.0, 2.0]))
    np.testing.assert_allclose(delu, [np.exp(-1.0), 1.0])


def test_classic_kernels_applied_by_conv2d():
    image = np.zeros((6, 6))
    image[:, 3:] = 1.0                                       # a vertical edge between columns 2 and 3
    out = plot.apply_kernels(image)
    sobel_x = out["Sobel x"]
    # interior rows: columns 2 and 3 see the step (-1 -2 -1 on the left, +1 +2 +1 on the right) -> 4
    np.testing.assert_array_equal(sobel_x[1:-1, 2], 4.0)
    np.testing.assert_array_equal(sobel_x[1:-1, 3], 4.0)
    np.testing.assert_array_equal(sobel_x[1:-1, :2], 0.0)
    np.testing.assert_array_equal(out["Sobel y"][1:-1, 1:-1], 0.0)  # no horizontal edge inside
    np.testing.assert_allclose(out["box blur"][2, 2], 3 / 9)         # 3 of 9 neighbours are 1
    np.testing.assert_array_equal(out["Laplacian"][1:-1, :2], 0.0)   # flat: zero
    np.testing.assert_allclose(out["Laplacian"][2, 2:4], [-1.0, 1.0])
    np.testing.assert_allclose(out["sharpen"][2, 4], 1.0)            # flat inside the bright part
    assert abs(plot.classic_kernels()["Gaussian blur"].sum() - 1) < 1e-12
