"""Activation functions beside their derivatives, the derivative read from glassnet's own backward."""
from __future__ import annotations

from ..backend import xp
from ._figure import axes

DEFAULT = ("Sigmoid", "Tanh", "ReLU", "LeakyReLU", "ELU")


def activation_curve(name: str, x):
    """(f(x), f'(x)) for the ``gn.nn`` activation ``name`` (e.g. 'ReLU', or a Module instance):
    f' is what autograd's backward returns for dy = 1, the same code training runs."""
    from .. import nn
    from ..tensor import Tensor
    module = getattr(nn, name)() if isinstance(name, str) else name
    t = Tensor._wrap(xp.asarray(x, dtype=xp.float64)).requires_grad_(True)
    y = module(t)
    y.backward(Tensor._wrap(xp.ones_like(y.numpy())))
    return y.numpy().copy(), t.grad.numpy().copy()


def activations(names=DEFAULT, ax=None, x_range=(-4.0, 4.0)):
    """One panel per activation: f(z) solid, f'(z) dashed, with the largest derivative
    in the title (a sigmoid passes at most 1/4 of the gradient back per layer)."""
    names = list(names)
    fig, panels = axes("gn.plot.activations", ax, len(names), (2.8 * len(names), 3))
    z = xp.linspace(*x_range, 401)
    for a, name in zip(panels, names):
        f, df = activation_curve(name, z)
        label = name if isinstance(name, str) else type(name).__name__
        a.axhline(0, color="grey", linewidth=0.5)
        a.axvline(0, color="grey", linewidth=0.5)
        a.plot(z, f, color="C0", label="f(z)")
        a.plot(z, df, "--", color="C3", label="f'(z)")
        a.set(title=f"{label}: max f' = {df.max():.2g}", xlabel="z", ylim=(-1.6, max(2.0, f.max() * 0.6)))
        a.legend(fontsize=8, loc="upper left")
    if ax is None:
        fig.tight_layout()
    return fig
