"""Classic image kernels applied by ``nn.Conv2d`` (notes 003, "Filters"): the weights a CNN
could learn, written by hand."""
from __future__ import annotations

from ..autograd import no_grad
from ..backend import xp
from ._figure import axes


def classic_kernels() -> dict:
    """{name: 2-d kernel}: box blur, Gaussian blur (the notes' 5x5 / 159), sharpen, Laplacian
    (the notes' 4-neighbour form), Sobel x and Sobel y (the notes' X and Y direction kernels)."""
    gaussian = xp.array([[2, 4, 5, 4, 2], [4, 9, 12, 9, 4], [5, 12, 15, 12, 5], [4, 9, 12, 9, 4],
                         [2, 4, 5, 4, 2]], dtype=xp.float64) / 159
    return {
        "box blur": xp.full((3, 3), 1 / 9),
        "Gaussian blur": gaussian,
        "sharpen": xp.array([[0, -1, 0], [-1, 5, -1], [0, -1, 0]], dtype=xp.float64),
        "Laplacian": xp.array([[0, -1, 0], [-1, 4, -1], [0, -1, 0]], dtype=xp.float64),
        "Sobel x": xp.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=xp.float64),
        "Sobel y": xp.array([[-1, -2, -1], [0, 0, 0], [1, 2, 1]], dtype=xp.float64),
    }


def apply_kernels(image, kernels=None) -> dict:
    """{name: filtered image}: each kernel loaded into an ``nn.Conv2d(1, 1, k, padding=k // 2,
    bias=False)`` (a cross-correlation, as every CNN layer computes) and run on ``image`` (H, W)."""
    from .. import nn
    from ..tensor import Tensor
    image = xp.asarray(image.numpy() if hasattr(image, "numpy") else image, dtype=xp.float64)
    if image.ndim != 2:
        raise ValueError(f"gn.plot.apply_kernels: expected one (H, W) image, got shape {image.shape}")
    x = Tensor._wrap(image.reshape(1, 1, *image.shape))
    out = {}
    for name, k in (kernels or classic_kernels()).items():
        conv = nn.Conv2d(1, 1, k.shape[0], padding=k.shape[0] // 2, bias=False).double()
        conv.load_state_dict({"weight": k.reshape(1, 1, *k.shape)})
        with no_grad():
            out[name] = conv(x).numpy()[0, 0].copy()
    return out


def kernel_gallery(image=None, ax=None):
    """The digit (default: the first of ``gn.data.load_digits``) and what each classic kernel
    makes of it, each kernel printed under its picture. ``ax``: None or 7 Axes."""
    if image is None:
        from ..data import load_digits
        X, _ = load_digits(images=True)
        image = X.numpy()[0, 0]
    image = xp.asarray(image.numpy() if hasattr(image, "numpy") else image, dtype=xp.float64)
    kernels = classic_kernels()
    filtered = apply_kernels(image, kernels)
    fig, panels = axes("gn.plot.kernel_gallery", ax, 1 + len(kernels), (2.2 * (1 + len(kernels)), 3.2))
    panels[0].imshow(image, cmap="gray_r", interpolation="nearest")
    panels[0].set_title("input")
    for a, (name, result) in zip(panels[1:], filtered.items()):
        signed = result.min() < 0
        limit = abs(result).max() or 1
        a.imshow(result, cmap="RdBu_r" if signed else "gray_r", interpolation="nearest",
                 vmin=-limit if signed else None, vmax=limit if signed else None)
        k = kernels[name]
        text = "\n".join(" ".join(f"{v:g}" if v == int(v) else f"{v:.2f}" for v in row) for row in k) \
            if k.shape[0] == 3 else "5x5, sum 1 (1/159 ...)"
        a.set_title(name, fontsize=9)
        a.set_xlabel(text, fontsize=7, family="monospace")
    for a in panels:
        a.set_xticks([])
        a.set_yticks([])
    if ax is None:
        fig.tight_layout()
    return fig
