"""What a network's layers hold and see: first-layer filters, feature maps of one input."""
from __future__ import annotations

import math

from ..autograd import no_grad
from ..backend import xp
from ._figure import axes


def _first_layer(model):
    from ..nn import Conv2d, Linear
    for name, m in model.named_modules():
        if isinstance(m, (Conv2d, Linear)):
            return name, m
    raise ValueError(f"gn.plot.filters: {type(model).__name__} has no Conv2d or Linear layer")


def filter_images(layer, image_shape=None):
    """The filters of a Conv2d or Linear layer as an (out, h, w) array, one image each.

    Conv2d weight (O, C, kh, kw) -> (O, kh, kw) for C == 1, else the mean over channels;
    Linear weight (O, in) -> each row reshaped to ``image_shape`` (default: a square,
    e.g. 64 inputs -> 8 x 8, the pixels each hidden unit weighs).
    """
    from ..nn import Conv2d, Linear
    W = layer.weight.numpy()
    if isinstance(layer, Conv2d):
        return W[:, 0] if W.shape[1] == 1 else W.mean(axis=1)
    if isinstance(layer, Linear):
        n_in = W.shape[1]
        if image_shape is None:
            side = math.isqrt(n_in)
            if side * side != n_in:
                raise ValueError(f"gn.plot.filters: Linear({n_in}, ...) inputs are not a square image; "
                                 f"pass image_shape=(h, w) with h * w == {n_in}")
            image_shape = (side, side)
        return W.reshape(W.shape[0], *image_shape)
    raise ValueError(f"gn.plot.filters: expected a Conv2d or Linear layer, got {type(layer).__name__}")


def mosaic(images, columns=None, gap: int = 1):
    """Tile (n, h, w) images into one array with ``gap`` NaN pixels between them (drawn blank);
    each image is scaled by its own largest |value| into [-1, 1], so weak filters stay visible."""
    images = xp.asarray(images, dtype=xp.float64)
    n, h, w = images.shape
    columns = columns or math.ceil(math.sqrt(n))
    rows = math.ceil(n / columns)
    out = xp.full((rows * (h + gap) - gap, columns * (w + gap) - gap), xp.nan)
    for k, image in enumerate(images):
        r, c = divmod(k, columns)
        scale = xp.abs(image).max()
        out[r * (h + gap):r * (h + gap) + h, c * (w + gap):c * (w + gap) + w] = image / scale if scale else image
    return out


def filters(model_or_layer, ax=None, image_shape=None, max_filters: int = 64):
    """The first Conv2d / Linear layer's filters as images (red positive, blue negative).

    Returns the Figure; one Axes (``ax``) holds the whole grid.
    """
    from ..nn import Conv2d, Linear
    if isinstance(model_or_layer, (Conv2d, Linear)):
        name, layer = type(model_or_layer).__name__, model_or_layer
    else:
        name, layer = _first_layer(model_or_layer)
    every = filter_images(layer, image_shape)
    images = every[:max_filters]
    fig, (a,) = axes("gn.plot.filters", ax, 1, (6, 6))
    a.imshow(mosaic(images), cmap="RdBu_r", vmin=-1, vmax=1, interpolation="nearest")
    a.set_axis_off()
    label = f"layer {name} ({type(layer).__name__})" if name and name != type(layer).__name__ else type(layer).__name__
    a.set_title(f"{label}: {len(images)} of {len(every)} filters, {images.shape[1]}x{images.shape[2]}")
    if ax is None:
        fig.tight_layout()
    return fig


def conv_outputs(model, x):
    """[(name, (C, H, W) array)] for every Conv2d in ``model``, for one input ``x``
    ((C, H, W) or (1, C, H, W), or whatever single sample the model takes), in eval mode."""
    from ..nn import Conv2d
    from ..tensor import Tensor
    x = x if isinstance(x, Tensor) else Tensor._wrap(xp.asarray(x, dtype=xp.float32))
    if x.ndim == 3:
        x = x.reshape(1, *x.shape)
    seen, handles = [], []
    for name, m in model.named_modules():
        if isinstance(m, Conv2d):
            handles.append(m.register_forward_hook(
                lambda mod, inputs, out, name=name: seen.append((name, out.numpy()[0].copy()))))
    if not handles:
        raise ValueError(f"gn.plot.feature_maps: {type(model).__name__} has no Conv2d layer")
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            model(x)
    finally:
        model.train(was_training)
        for h in handles:
            h.remove()
    return seen


def feature_maps(model, x, ax=None, max_maps: int = 16):
    """The feature maps of one input through every Conv2d layer: one panel per layer,
    up to ``max_maps`` channels each. ``ax``: None or one Axes per conv layer."""
    outputs = conv_outputs(model, x)
    fig, panels = axes("gn.plot.feature_maps", ax, len(outputs), (4 * len(outputs), 4.2))
    for a, (name, maps) in zip(panels, outputs):
        a.imshow(mosaic(maps[:max_maps]), cmap="RdBu_r", vmin=-1, vmax=1, interpolation="nearest")
        a.set_axis_off()
        a.set_title(f"{name}: {min(len(maps), max_maps)} of {maps.shape[0]} maps, "
                    f"{maps.shape[1]}x{maps.shape[2]}", fontsize=9)
    if ax is None:
        fig.tight_layout()
    return fig
