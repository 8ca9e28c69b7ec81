"""gn.plot's pictures: what they draw (numbers, shapes, labels), not just that they draw."""
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import glassnet as gn
import glassnet.nn as nn
from glassnet import plot

pytest.importorskip("matplotlib")
import matplotlib.pyplot as plt  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_confusion_writes_every_count_and_each_class_accuracy():
    counts = plot.confusion_matrix([0, 0, 1, 1, 2, 2, 2], [0, 1, 1, 1, 2, 0, 2])
    fig = plot.confusion(counts, class_names=["a", "b", "c"])
    ax = fig.axes[0]
    written = {(round(t.get_position()[1]), round(t.get_position()[0])): int(t.get_text()) for t in ax.texts}
    assert written == {(i, j): int(counts[i, j]) for i in range(3) for j in range(3) if counts[i, j]}
    np.testing.assert_array_equal(ax.images[0].get_array(), counts)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a  (50%)", "b  (100%)", "c  (67%)"]
    assert "71.4% correct" in ax.get_title()


def test_filters_image_has_the_layers_shape():
    fig = plot.filters(nn.Conv2d(1, 6, 5))          # 6 filters of 5x5 -> 3 columns x 2 rows, 1-px gaps
    assert fig.axes[0].images[0].get_array().shape == (2 * 5 + 1, 3 * 5 + 2)
    assert fig.axes[0].get_title() == "Conv2d: 6 of 6 filters, 5x5"
    mlp = gn.models.mlp()                            # first layer Linear(64, 128): 128 images of 8x8, 64 shown
    fig = plot.filters(mlp)
    assert fig.axes[0].images[0].get_array().shape == (8 * 8 + 7, 8 * 8 + 7)
    assert fig.axes[0].get_title() == "layer 0 (Linear): 64 of 128 filters, 8x8"


def test_feature_maps_draw_one_panel_per_conv_layer_and_compose():
    model = gn.models.digits_cnn()
    X, _ = gn.data.load_digits(images=True)
    fig = plot.feature_maps(model, X[0], max_maps=4)
    assert len(fig.axes) == 2
    assert fig.axes[0].images[0].get_array().shape == (2 * 8 + 1, 2 * 8 + 1)
    own, grid = plt.subplots(2, 2)
    assert plot.feature_maps(model, X[0], ax=grid[0]) is own
    with pytest.raises(ValueError, match="2 Axes for this picture, got 4"):
        plot.feature_maps(model, X[0], ax=grid)


def test_training_curves_show_epochs_steps_and_validation():
    history = {"loss": [1.0, 0.5], "accuracy": [0.6, 0.8], "val_loss": [1.1, 0.7], "val_accuracy": [0.5, 0.7],
               "step_loss": [1.2, 0.8, 0.6, 0.4]}
    fig = plot.training_curves(history)
    loss_ax, acc_ax = fig.axes
    lines = {line.get_label(): line for line in loss_ax.get_lines()}
    np.testing.assert_allclose(lines["train loss per step"].get_xdata(), [0.5, 1.0, 1.5, 2.0])
    np.testing.assert_allclose(lines["validation loss"].get_ydata(), [1.1, 0.7])
    assert [line.get_label() for line in acc_ax.get_lines()] == ["train accuracy", "validation accuracy"]
    _, single = plt.subplots()
    assert len(plot.training_curves(history, ax=single).axes) == 1


def test_gradient_flow_flags_the_vanished_layer():
    history = {"grad_mean/0.weight": [1e-9], "grad_max/0.weight": [1e-8],
               "grad_mean/2.weight": [1e-2], "grad_max/2.weight": [1e-1]}
    ax = plot.gradient_flow(history).axes[0]
    labels = {t.get_text(): t.get_color() for t in ax.get_xticklabels()}
    assert labels["0.weight"] == "#b00020" and labels["2.weight"] != "#b00020"
    assert "vanished" in ax.get_title() and "0.weight" in ax.get_title()
    with pytest.raises(ValueError, match="grad_mean"):
        plot.gradient_flow({"loss": [1.0]})


def test_recurrent_states_panels_match_the_trace():
    layer = nn.LSTM(2, 4, batch_first=True)
    x = gn.randn(1, 6, 2)
    fig = plot.recurrent_states(layer, x)
    titles = [a.get_title() for a in fig.axes if a.get_title()]
    assert titles == ["i (input)", "f (forget)", "g (candidate)", "o (output)", "c (cell state)", "h (hidden state)"]
    trace = plot.recurrent_trace(layer, x)
    np.testing.assert_allclose(fig.axes[0].images[0].get_array(), trace["gates"]["i (input)"].T)


def test_activations_and_kernel_gallery_panels():
    fig = plot.activations(["Sigmoid", "ReLU"])
    assert [a.get_title() for a in fig.axes] == ["Sigmoid: max f' = 0.25", "ReLU: max f' = 1"]
    fig = plot.kernel_gallery()
    assert [a.get_title() for a in fig.axes] == ["input", "box blur", "Gaussian blur", "sharpen", "Laplacian",
                                                 "Sobel x", "Sobel y"]
    X, _ = gn.data.load_digits(images=True)
    np.testing.assert_allclose(fig.axes[6].images[0].get_array(),
                               plot.apply_kernels(X.numpy()[0, 0])["Sobel y"])


@pytest.mark.parametrize("fmt", ["png", "svg"])
def test_figures_save_as_png_and_svg(fmt):
    data = plot.to_bytes(plot.activations(["Tanh"]), format=fmt)
    assert data.startswith(b"\x89PNG") if fmt == "png" else b"<svg" in data[:500]


@pytest.mark.slow   # a subprocess that trains and runs an experiment
def test_without_matplotlib_the_core_works_and_pictures_say_how_to_install(tmp_path):
    script = textwrap.dedent("""
        import sys
        sys.modules["matplotlib"] = None                  # as if it were not installed
        import glassnet as gn
        from glassnet import plot
        assert plot.confusion_matrix([0, 1], [1, 1]).tolist() == [[0, 1], [0, 1]]
        try:
            plot.activations()
        except ImportError as error:
            print("ERROR:", error)
        from glassnet.cli import main
        main(["train", "--epochs", "1", "--quiet", "--out", sys.argv[1], "--report", sys.argv[1] + "/run.html"])
        from glassnet.experiments import optimizers
        optimizers.run(out=sys.argv[1] + "/o.png", epochs=1)
    """)
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "ERROR: gn.plot.activations draws with matplotlib, which is not installed: pip install glassnet[plot]" \
        in done.stdout
    assert "test accuracy" in done.stdout
    page = (tmp_path / "run.html").read_text()
    assert "pip install glassnet[plot]" in page and "<h2 id=\"confusion-matrix\">" in page
    assert page.count('<figure class="') == 32          # the sample grid needs no matplotlib
    assert "pip install glassnet[plot]" in done.stdout            # the experiment printed its numbers and the note
    assert "validation accuracy" in done.stdout and not (tmp_path / "o.png").exists()
