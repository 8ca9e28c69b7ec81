"""The confusion matrix: counts[i, j] = samples of true class i predicted as class j."""
from __future__ import annotations

from ..backend import xp
from ._figure import axes


def _labels(values, who: str, what: str):
    array = xp.asarray(values.numpy() if hasattr(values, "numpy") else values)
    if array.ndim != 1 or (array.size and array.dtype.kind not in "iu"):
        raise ValueError(f"{who}: {what} must be a 1-d sequence of class indices, got shape {array.shape} "
                         f"of {array.dtype}")
    return array.astype(xp.int64)


def confusion_matrix(target, predicted, num_classes: int | None = None):
    """(num_classes, num_classes) int64 counts: row = true class, column = predicted class
    (scikit-learn's layout). ``num_classes`` defaults to 1 + the largest label seen.

        >>> confusion_matrix([0, 1, 1, 2], [0, 2, 1, 2])
        array([[1, 0, 0],
               [0, 1, 1],
               [0, 0, 1]])
    """
    who = "gn.plot.confusion_matrix"
    t, p = _labels(target, who, "target"), _labels(predicted, who, "predicted")
    if t.shape != p.shape:
        raise ValueError(f"{who}: target and predicted must have the same length, got {len(t)} and {len(p)}")
    k = int(max(t.max(initial=-1), p.max(initial=-1)) + 1) if num_classes is None else int(num_classes)
    if t.size and (min(t.min(), p.min()) < 0 or max(t.max(), p.max()) >= k):
        raise ValueError(f"{who}: labels must lie in 0..{k - 1} (num_classes={k}), got "
                         f"{min(t.min(), p.min())}..{max(t.max(), p.max())}")
    counts = xp.zeros((k, k), xp.int64)
    xp.add.at(counts, (t, p), 1)
    return counts


def per_class_accuracy(counts):
    """Recall per class: the diagonal over each row's total (NaN for a class never seen)."""
    counts = xp.asarray(counts)
    totals = counts.sum(axis=1)
    with xp.errstate(invalid="ignore", divide="ignore"):
        return xp.where(totals > 0, xp.diag(counts) / xp.maximum(totals, 1), xp.nan)


def confusion(counts, class_names=None, ax=None, title: str = "confusion matrix"):
    """Draw counts (from ``confusion_matrix``) with every count written in its cell and each
    class's accuracy (``per_class_accuracy``) beside its row. Returns the Figure."""
    counts = xp.asarray(counts)
    if counts.ndim != 2 or counts.shape[0] != counts.shape[1]:
        raise ValueError(f"gn.plot.confusion: counts must be a square matrix, got shape {counts.shape}")
    k = counts.shape[0]
    names = [str(c) for c in (class_names if class_names is not None else range(k))]
    fig, (a,) = axes("gn.plot.confusion", ax, 1, (1.0 + 0.55 * k, 0.6 + 0.5 * k))
    a.imshow(counts, cmap="Blues")
    top = counts.max() if counts.size else 0
    for i in range(k):
        for j in range(k):
            if counts[i, j]:
                a.text(j, i, str(counts[i, j]), ha="center", va="center", fontsize=8,
                       color="white" if counts[i, j] > top / 2 else ("#b00020" if i != j else "black"))
    acc = per_class_accuracy(counts)
    a.set_xticks(range(k), names)
    a.set_yticks(range(k), [f"{n}  ({'-' if xp.isnan(r) else f'{100 * r:.0f}%'})" for n, r in zip(names, acc)])
    total = counts.sum()
    overall = xp.trace(counts) / total if total else float("nan")
    a.set(xlabel="predicted class", ylabel="true class (accuracy)", title=f"{title}: {100 * overall:.1f}% correct")
    if ax is None:
        fig.tight_layout()
    return fig
