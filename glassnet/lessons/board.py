"""The board a lesson writes on: steps, values, and each of the notes' numbers beside glassnet's.

A lesson is a function ``fn(board)`` that builds its example from glassnet's layers, functions and
autograd and writes what it computes on a ``Board``:

    board.step("Forward pass")                          # a heading, in the notes' order
    board.say("h1 = sigmoid(0.2 * 1.0)")                # prose
    board.show("z1", z1)                                # a value or a matrix, no notes' number
    board.compare("h1", h1, "0.55")                     # glassnet's number beside the notes'
    board.compare("loss", loss, "0.337", why="the notes take log10; glassnet's BCE uses ln")

``compare`` decides agreement itself, at the precision the notes print (0.55 agrees with anything
in [0.545, 0.555]); a disagreement without a ``why`` is a bug in the lesson and raises, so every
difference a lesson shows comes with its one-line reason and none can be smoothed over silently.
"""
from __future__ import annotations

import dataclasses
import numbers

import numpy as np


class LessonError(RuntimeError):
    """A lesson that disagrees with the notes without saying why (a bug in the lesson)."""


@dataclasses.dataclass
class Check:
    """One of the notes' numbers beside glassnet's: ``agrees`` at the notes' printed precision."""
    label: str
    ours: object
    notes: str
    agrees: bool
    why: str | None = None


def as_number(value):
    """A Tensor, NumPy array or Python number as a float or an ndarray of floats."""
    if hasattr(value, "numpy") and callable(value.numpy):
        value = value.numpy()
    arr = np.asarray(value, dtype=np.float64)
    return float(arr) if arr.ndim == 0 else arr


def fmt(value, digits: int = 4) -> str:
    """A number the way a student writes it: integers bare, others to ``digits`` decimals."""
    value = as_number(value)
    if isinstance(value, np.ndarray):
        return fmt_matrix(value, digits)
    if value == int(value) and abs(value) < 1e15:
        return f"{int(value):,}" if abs(value) >= 10_000 else str(int(value))
    return f"{value:.{digits}f}"


def fmt_matrix(arr, digits: int = 4) -> str:
    arr = np.asarray(as_number(arr), dtype=np.float64) + 0.0   # + 0.0 turns -0.0 into 0
    if arr.ndim == 0:
        return fmt(arr, digits)
    if arr.ndim == 1:
        arr = arr[None]
    if arr.ndim > 2:
        return "\n\n".join(f"[{i}]\n" + fmt_matrix(a, digits) for i, a in enumerate(arr))
    integral = bool(np.all(arr == np.round(arr))) and bool(np.all(np.abs(arr) < 1e15))
    cells = [[str(int(v)) if integral else f"{v:.{digits}f}" for v in row] for row in arr]
    width = max(len(c) for row in cells for c in row)
    return "\n".join("  ".join(c.rjust(width) for c in row) for row in cells)


def _decimals(text: str) -> int:
    body = text.strip().lstrip("+-").replace(",", "")
    return len(body.split(".", 1)[1]) if "." in body else 0


def notes_agree(ours, notes: str) -> bool:
    """Does ``ours`` round to what the notes print? ("0.55" agrees with 0.5498; "2" with 2.0)."""
    values = np.atleast_1d(as_number(ours))
    wanted = np.atleast_1d(np.asarray([float(t.replace(",", "")) for t in notes.replace(";", " ").split()]))
    if values.size != wanted.size:
        return False
    tol = 0.5 * 10.0 ** -max(_decimals(t) for t in notes.replace(";", " ").split()) + 1e-9
    return bool(np.all(np.abs(values.ravel() - wanted.ravel()) <= tol))


@dataclasses.dataclass
class Block:
    kind: str          # "step", "say", "show", "check", "note"
    text: str = ""
    value: str = ""
    check: Check | None = None


class Board:
    """What one lesson wrote: blocks in order, the named values, and every comparison."""

    def __init__(self):
        self.blocks: list[Block] = []
        self.values: dict[str, object] = {}
        self.checks: list[Check] = []

    def step(self, title: str) -> None:
        self.blocks.append(Block("step", title))

    def say(self, text: str) -> None:
        self.blocks.append(Block("say", text))

    def note(self, text: str) -> None:
        """A convention or a caveat the reader should not miss (rendered highlighted)."""
        self.blocks.append(Block("note", text))

    def show(self, label: str, value, key: str | None = None, digits: int = 4) -> None:
        if key is not None:
            self.values[key] = as_number(value) if not isinstance(value, str) else value
        self.blocks.append(Block("show", label, value if isinstance(value, str) else fmt(value, digits)))

    def compare(self, label: str, ours, notes: str, why: str | None = None, key: str | None = None,
                digits: int = 4) -> Check:
        """Show glassnet's ``ours`` beside the notes' ``notes`` (their text, e.g. "0.55" or "-1 2; 0 1").

        Raises ``LessonError`` when they differ at the notes' precision and ``why`` is missing.
        """
        agrees = notes_agree(ours, notes)
        if not agrees and not why:
            raise LessonError(f"lesson step {label!r}: glassnet gives {fmt(ours, digits)!r}, the notes "
                              f"{notes!r}, and the lesson does not say why")
        if key is not None:
            self.values[key] = as_number(ours)
        check = Check(label, as_number(ours), notes, agrees, why)
        self.checks.append(check)
        self.blocks.append(Block("check", label, fmt(ours, digits), check))
        return check
