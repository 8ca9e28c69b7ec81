"""One lesson as plain text, Markdown or a self-contained HTML page (``glassnet.report.html.Page``)."""
from __future__ import annotations

import textwrap

FORMATS = ("text", "markdown", "html")
_WIDTH = 26   # label column of the text rendering, set per lesson


def _sources(result) -> list[str]:
    return [f'{file}, section "{section}"' for file, section in result.sources]


def _check_line(block) -> str:
    c = block.check
    verdict = "agrees" if c.agrees else "DIFFERS"
    return f"glassnet {block.value}  |  notes {c.notes}  |  {verdict}"


def render_text(result) -> str:
    global _WIDTH
    labels = [b.text for b in result.board.blocks if b.kind in ("show", "check") and "\n" not in b.value]
    _WIDTH = min(max([len(x) for x in labels] + [20]), 44) + 2
    lines = [f"{result.name}: {result.title}"] + [f"  from {s}" for s in _sources(result)]
    for b in result.board.blocks:
        if b.kind == "step":
            lines += ["", f"== {b.text} =="]
        elif b.kind == "say":
            lines += textwrap.wrap(b.text, 100) or [""]
        elif b.kind == "note":
            lines += textwrap.wrap("note: " + b.text, 100, subsequent_indent="      ")
        elif b.kind == "show":
            lines += _labelled(b.text, b.value)
        elif b.kind == "check":
            if "\n" in b.value:
                lines += _labelled(b.text + " (glassnet)", b.value)
                lines.append(f"{'':{_WIDTH}}notes {b.check.notes}  |  {'agrees' if b.check.agrees else 'DIFFERS'}")
            else:
                lines.append(f"{b.text:<{_WIDTH - 2}}  {_check_line(b)}")
            if b.check.why:
                lines += textwrap.wrap(("why: " if not b.check.agrees else "convention: ") + b.check.why, 100,
                                       initial_indent="    ", subsequent_indent="    ")
    n = len(result.disagreements)
    lines += ["", f"{len(result.checks)} of the notes' numbers checked, {n} differ"
              + (" (each with its reason above)" if n else "")]
    return "\n".join(lines) + "\n"


def _labelled(label: str, value: str) -> list[str]:
    if "\n" not in value:
        return [f"{label:<{_WIDTH - 2}}  {value}"]
    return [f"{label}:"] + ["    " + row for row in value.splitlines()]


def render_markdown(result) -> str:
    out = [f"# {result.name}: {result.title}", ""] + [f"*From {s}*  " for s in _sources(result)]
    for b in result.board.blocks:
        if b.kind == "step":
            out += ["", f"## {b.text}", ""]
        elif b.kind == "say":
            out += [b.text, ""]
        elif b.kind == "note":
            out += [f"> **Note.** {b.text}", ""]
        elif b.kind == "show":
            out += _md_value(b.text, b.value)
        elif b.kind == "check":
            c = b.check
            verdict = "agrees" if c.agrees else "**differs**"
            if "\n" in b.value:
                out += _md_value(b.text + " (glassnet)", b.value)
                out += [f"notes: `{c.notes}` — {verdict}", ""]
            else:
                out += [f"- {b.text}: glassnet `{b.value}` · notes `{c.notes}` — {verdict}", ""]
            if c.why:
                out += [f"  - {'why' if not c.agrees else 'convention'}: {c.why}", ""]
    n = len(result.disagreements)
    out += ["", f"{len(result.checks)} of the notes' numbers checked, {n} differ."]
    return "\n".join(out) + "\n"


def _md_value(label: str, value: str) -> list[str]:
    if "\n" not in value:
        return [f"- {label} = `{value}`", ""]
    return [f"{label}:", "", "```", value, "```", ""]


def render_html(result) -> str:
    from ..report.html import Page
    page = Page(f"{result.name}: {result.title}", subtitle="; ".join("from " + s for s in _sources(result)))
    rows: list = []
    lines: list = []        # consecutive one-line values share one <pre>

    def flush():
        if rows:
            page.table(list(rows), header=["step", "glassnet", "notes", ""])
            rows.clear()
        if lines:
            width = max(len(label) for label, _ in lines)
            page.pre("\n".join(f"{label:<{width}}  {value}" for label, value in lines))
            lines.clear()

    for b in result.board.blocks:
        if b.kind == "check" and "\n" not in b.value:
            if lines:
                flush()
            c = b.check
            rows.append([b.text, b.value, c.notes, "agrees" if c.agrees else "differs: " + c.why])
            if c.agrees and c.why:
                rows.append(["", "", "", "convention: " + c.why])
            continue
        if b.kind == "show" and "\n" not in b.value:
            if rows:
                flush()
            lines.append((b.text, b.value))
            continue
        flush()
        if b.kind == "step":
            page.heading(b.text)
        elif b.kind == "say":
            page.paragraph(b.text)
        elif b.kind == "note":
            page.paragraph(b.text, css_class="note")
        elif b.kind == "show":
            page.pre(f"{b.text}\n{b.value}")
        elif b.kind == "check":
            c = b.check
            page.pre(f"{b.text} (glassnet)\n{b.value}\n\nnotes: {c.notes}   ({'agrees' if c.agrees else 'DIFFERS'})")
            if not c.agrees or c.why:
                page.paragraph(("differs: " if not c.agrees else "convention: ") + c.why, css_class="note")
    flush()
    n = len(result.disagreements)
    page.paragraph(f"{len(result.checks)} of the notes' numbers checked, {n} differ.")
    return page.render()


def render(result, format: str = "text") -> str:  # noqa: A002
    if format not in FORMATS:
        raise ValueError(f"lesson {result.name!r}: format must be one of {FORMATS}, got {format!r}")
    return {"text": render_text, "markdown": render_markdown, "html": render_html}[format](result)
