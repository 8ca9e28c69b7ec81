"""``gn.plot``: pictures of what a network did (matplotlib, from the optional ``plot`` extra).

Each function returns a matplotlib Figure and takes ``ax=`` (one Axes, or one per panel)
so pictures compose into your own figure; save them as PNG or SVG with
``fig.savefig("x.png")`` / ``fig.savefig("x.svg")``. matplotlib is imported only when a
picture is drawn: without it, ``import glassnet`` and the number helpers
(``confusion_matrix``, ``filter_images``, ``recurrent_trace``, ...) still work, and a
picture raises ImportError saying ``pip install glassnet[plot]``.

    gn.plot.training_curves(trainer.history)       loss and accuracy per epoch / per step
    gn.plot.confusion(gn.plot.confusion_matrix(y, pred))
    gn.plot.filters(model)                         first-layer filters as images
    gn.plot.feature_maps(model, x)                 one input through every Conv2d
    gn.plot.gradient_flow(trainer.history)         mean / max |grad| per layer per epoch
    gn.plot.recurrent_states(model, x)             gates and states over time
    gn.plot.activations()                          f and f' for sigmoid, tanh, ReLU, ...
    gn.plot.kernel_gallery()                       blur, sharpen, Laplacian, Sobel on a digit
"""
from ._figure import close, to_bytes
from .activations import activation_curve, activations
from .confusion import confusion, confusion_matrix, per_class_accuracy
from .curves import smooth, training_curves
from .gradients import gradient_flow, vanished_layers
from .kernels import apply_kernels, classic_kernels, kernel_gallery
from .layers import conv_outputs, feature_maps, filter_images, filters, mosaic
from .recurrent import recurrent_states, recurrent_trace

__all__ = ["activation_curve", "activations", "apply_kernels", "classic_kernels", "close", "confusion",
           "confusion_matrix", "conv_outputs", "feature_maps", "filter_images", "filters", "gradient_flow",
           "kernel_gallery", "mosaic", "per_class_accuracy", "recurrent_states", "recurrent_trace", "smooth",
           "to_bytes", "training_curves", "vanished_layers"]
