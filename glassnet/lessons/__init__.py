"""The notes' worked examples, replayed by the library and reconciled with the notes.

    import glassnet as gn
    for les in gn.lessons.list():
        print(les.name, "-", les.title)
    r = gn.lessons.run("sigmoid-chain")
    r.values["loss_ln"]          # the numbers, for tests and notebooks
    print(r.text)                # the steps in the notes' order, the notes' numbers beside glassnet's
    r.disagreements              # every place the notes differ, each with its one-line reason
    r.render("html")             # the same lesson as a self-contained page

Each lesson builds its example from glassnet's own layers, functions and autograd (no hard-coded
answers) and names the note file and section it replays. Command line: ``glassnet lesson list``,
``glassnet lesson NAME [--format text|markdown|html] [--out FILE]``.
"""
from __future__ import annotations

import builtins

from .board import Board, Check, LessonError
from .registry import Lesson, LessonResult, get, run
from .registry import all_lessons as _all_lessons

__all__ = ["list", "run", "get", "Lesson", "LessonResult", "Check", "Board", "LessonError"]


def list() -> builtins.list[Lesson]:  # noqa: A001 - gn.lessons.list(), as the issue names it
    """Every lesson, in the order of the notes' topics (name, title, group, sources)."""
    return _all_lessons()
