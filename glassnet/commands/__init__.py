"""Subcommands of ``glassnet`` that live in their own modules.

Each module named in ``MODULES`` defines

* ``add_parser(subparsers)``: registers its subcommand (cheap: no heavy imports here), and
* ``run(args) -> int``: does the work (imports what it needs) and returns the exit status;
* optionally ``NAMES``: the subcommand names it handles (default: the module's name).

``glassnet/cli.py`` registers them after its built-in commands and dispatches to ``run``.
"""
from __future__ import annotations

import importlib

MODULES: tuple[str, ...] = ("report", "lesson", "inspect", "convert")


def load():
    """The command modules, imported (each is small; the work is imported inside ``run``)."""
    return [importlib.import_module(f"{__name__}.{name}") for name in MODULES]
