"""The registry: every lesson by name, with the note file and section it replays."""
from __future__ import annotations

import dataclasses
import importlib

from .board import Board, Check

# One module per group of lessons, in the order ``glassnet lesson list`` shows them.
GROUPS = ("neuron", "activations", "softmax", "convolution", "output_size", "pooling", "parameters",
          "toy_cnn", "regularisation", "recurrent")

NOTES = {
    "000": "000_f1a626c8fa66bc36.txt",
    "001": "001_0ad103dc23bd7991.txt",
    "002": "002_b0cc0517b37ffd9b.txt",
    "003": "003_8834ab51e0686074.txt",
    "004": "004_8b5327ce3312dd82.txt",
}


@dataclasses.dataclass(frozen=True)
class Lesson:
    name: str
    title: str
    group: str
    sources: tuple          # ((note file, section heading), ...)
    fn: object = dataclasses.field(repr=False, compare=False)


@dataclasses.dataclass
class LessonResult:
    """What ``gn.lessons.run(name)`` returns.

    Attributes:
        name, title, sources: the lesson and where in the notes it comes from.
        values: the numbers glassnet computed, by key (floats or NumPy arrays), for tests and notebooks.
        checks: each of the notes' numbers beside glassnet's (``Check``: label, ours, notes, agrees, why).
        text: the lesson rendered as plain text (``render("markdown" | "html")`` for the others).
    """
    name: str
    title: str
    sources: tuple
    values: dict
    checks: list
    board: Board = dataclasses.field(repr=False)

    @property
    def disagreements(self) -> list[Check]:
        return [c for c in self.checks if not c.agrees]

    @property
    def text(self) -> str:
        return self.render("text")

    def render(self, format: str = "text") -> str:  # noqa: A002 - the CLI's word
        from . import render
        return render.render(self, format)

    def __str__(self) -> str:
        return self.text


_LESSONS: dict[str, Lesson] = {}
_loaded = False


def lesson(name: str, title: str, *sources):
    """Register ``fn(board)`` as lesson ``name``; ``sources`` are (note key, section heading) pairs."""
    def register(fn):
        if name in _LESSONS:
            raise ValueError(f"lesson {name!r} is registered twice")
        group = fn.__module__.rsplit(".", 1)[-1]
        _LESSONS[name] = Lesson(name, title, group, tuple((NOTES[k], s) for k, s in sources), fn)
        return fn
    return register


def _load() -> None:
    global _loaded
    if not _loaded:
        for group in GROUPS:
            importlib.import_module(f"{__package__}.{group}")
        _loaded = True


def all_lessons() -> list[Lesson]:
    _load()
    order = {g: i for i, g in enumerate(GROUPS)}
    return sorted(_LESSONS.values(), key=lambda les: order[les.group])


def get(name: str) -> Lesson:
    _load()
    if name not in _LESSONS:
        known = ", ".join(sorted(_LESSONS))
        raise KeyError(f"no lesson named {name!r}; the lessons are: {known}")
    return _LESSONS[name]


def run(name: str) -> LessonResult:
    from .. import backend
    les = get(name)
    board = Board()
    saved = backend._rng          # a lesson seeds and draws (layer init, dropout masks): leave the caller's
    try:                          # random stream exactly as it was
        les.fn(board)
    finally:
        backend._rng = saved
    return LessonResult(les.name, les.title, les.sources, board.values, board.checks, board)


def table_markdown() -> str:
    """The lessons as a Markdown table (the README's list is this text; a test keeps them equal)."""
    rows = ["| lesson | what it replays | from |", "|---|---|---|"]
    for les in all_lessons():
        files = ", ".join(dict.fromkeys(f.split("_")[0] for f, _ in les.sources))
        title = les.title.replace("|", "\\|")
        rows.append(f"| `{les.name}` | {title} | {files} |")
    return "\n".join(rows)
