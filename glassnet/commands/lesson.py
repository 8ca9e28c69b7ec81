"""``glassnet lesson list`` and ``glassnet lesson NAME [--format text|markdown|html] [--out FILE]``:
the notes' worked examples, replayed by the library (see ``glassnet.lessons``)."""
from __future__ import annotations

import sys


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("lesson", help="replay one of the notes' worked examples, step by step",
                              description="Replay a worked example from the course notes with glassnet's own "
                                          "layers and autograd, the notes' numbers beside glassnet's. "
                                          "'glassnet lesson list' shows the lessons.")
    p.add_argument("name", help="a lesson name, or 'list'")
    p.add_argument("--format", choices=["text", "markdown", "html"], default="text",
                   help="text (default), markdown, or a self-contained HTML page")
    p.add_argument("--out", default=None, help="write to this file instead of printing")


def run(args) -> int:
    from .. import lessons
    if args.name == "list":
        rows = lessons.list()
        width = max(len(les.name) for les in rows)
        text = "\n".join(f"{les.name:<{width}}  {les.title}" for les in rows) + f"\n\n{len(rows)} lessons\n"
        return _emit(text, args.out)
    try:
        result = lessons.run(args.name)
    except KeyError as e:
        print(f"glassnet lesson: {e.args[0]}", file=sys.stderr)
        return 2
    return _emit(result.render(args.format), args.out)


def _emit(text: str, out) -> int:
    if out is None:
        sys.stdout.write(text)
        return 0
    import pathlib
    path = pathlib.Path(out)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as e:
        print(f"glassnet lesson: cannot write {out}: {e.strerror or e}", file=sys.stderr)
        return 1
    print(f"wrote {path}")
    return 0
