"""The one place ``gn.plot`` imports matplotlib (lazily, so the core never needs it)."""
from __future__ import annotations

import io


def pyplot(who: str):
    """matplotlib.pyplot, or an ImportError that names the function and the install command."""
    try:
        import matplotlib.pyplot as plt   # without a display matplotlib picks its file-only backend (Agg) itself
    except ImportError:
        raise ImportError(f"{who} draws with matplotlib, which is not installed: "
                          f"pip install glassnet[plot]") from None
    return plt


def axes(who: str, ax, n: int, figsize):
    """(figure, list of n Axes): new ones when ``ax`` is None, else the caller's.

    ``ax`` may be one Axes (when n == 1) or a sequence of n Axes, so pictures compose into
    the caller's own figure.
    """
    if ax is None:
        plt = pyplot(who)
        fig, made = plt.subplots(1, n, figsize=figsize, squeeze=False)
        return fig, list(made[0])
    many = list(ax.flat) if hasattr(ax, "flat") else list(ax) if isinstance(ax, (list, tuple)) else [ax]
    if len(many) != n:
        raise ValueError(f"{who}: ax must be {'one Axes' if n == 1 else f'{n} Axes'} for this picture, "
                         f"got {len(many)}")
    return many[0].figure, many


def to_bytes(fig, format: str = "png", dpi: int = 100, bbox_inches=None) -> bytes:   # noqa: A002
    """The figure rendered as PNG (or 'svg') bytes, e.g. to embed in a report. (The figures here
    are laid out with tight_layout already; bbox_inches='tight' would draw everything twice.)"""
    buffer = io.BytesIO()
    fig.savefig(buffer, format=format, dpi=dpi, bbox_inches=bbox_inches)
    return buffer.getvalue()


def close(fig) -> None:
    """Release a figure made by pyplot (reports and experiments draw many)."""
    import matplotlib.pyplot as plt
    plt.close(fig)
