"""One self-contained HTML page: text, tables, preformatted blocks and embedded images.

    page = Page("LeNet-5 on MNIST")
    page.heading("Curves")
    page.image(png_bytes, alt="loss per epoch")
    page.table([["conv1", "(1, 6, 28, 28)", 156]], header=["layer", "output", "params"])
    page.write("run.html")                       # atomic: readers never see half a page

Images are embedded as base64 data URIs and the style sheet is inline, so the file opens
offline, needs no JavaScript, and can be mailed or attached as it is. Everything passed
as text is escaped. Training reports (``glassnet.report``) and lessons render through this.
"""
from __future__ import annotations

import base64
import datetime
import html
import os
import pathlib
import tempfile

STYLE = """
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; max-width: 70rem;
       margin: 2rem auto; padding: 0 1rem; color: #1d1d1f; background: #fff; }
h1 { font-size: 1.7rem; margin-bottom: .2rem; } h2 { margin-top: 2rem; border-bottom: 1px solid #ddd; }
.meta { color: #666; font-size: .9rem; }
table { border-collapse: collapse; margin: .5rem 0; font-variant-numeric: tabular-nums; }
th, td { border: 1px solid #ddd; padding: .25rem .6rem; text-align: right; }
th { background: #f4f4f6; } td:first-child, th:first-child { text-align: left; }
pre { background: #f6f8fa; padding: .75rem; overflow-x: auto; font-size: .85rem; }
figure { margin: 1rem 0; } figcaption { color: #555; font-size: .9rem; }
img { max-width: 100%; height: auto; }
.note { border-left: 4px solid #e0a800; background: #fffbea; padding: .5rem .75rem; }
table.settings td { text-align: left; }
.samples { display: flex; flex-wrap: wrap; gap: .5rem; }
.samples figure { margin: 0; text-align: center; width: 6.5rem; }
.samples img { width: 64px; height: 64px; image-rendering: pixelated; border: 1px solid #ddd; }
.samples figcaption { font-size: .8rem; } .samples .wrong figcaption { color: #b00020; font-weight: bold; }
.samples .right figcaption { color: #1a7f37; }
"""


class Page:
    """An HTML page built section by section; ``render()`` gives the text, ``write(path)`` saves it."""

    def __init__(self, title: str, subtitle: str | None = None):
        self.title = title
        self._parts: list[str] = [f"<h1>{html.escape(title)}</h1>"]
        if subtitle:
            self._parts.append(f'<p class="meta">{html.escape(subtitle)}</p>')

    def heading(self, text: str, level: int = 2, id: str | None = None) -> "Page":  # noqa: A002 - HTML's name
        if not 1 <= level <= 6:
            raise ValueError(f"Page.heading: level must be 1..6, got {level}")
        anchor = f' id="{html.escape(id)}"' if id else ""
        self._parts.append(f"<h{level}{anchor}>{html.escape(text)}</h{level}>")
        return self

    def paragraph(self, text: str, css_class: str | None = None) -> "Page":
        cls = f' class="{html.escape(css_class)}"' if css_class else ""
        self._parts.append(f"<p{cls}>{html.escape(text)}</p>")
        return self

    def pre(self, text: str) -> "Page":
        self._parts.append(f"<pre>{html.escape(text)}</pre>")
        return self

    def table(self, rows, header=None, css_class: str | None = None) -> "Page":
        """A table; ``css_class='settings'`` left-aligns every column (text rather than numbers)."""
        out = [f'<table class="{html.escape(css_class)}">' if css_class else "<table>"]
        if header is not None:
            out.append("<tr>" + "".join(f"<th>{html.escape(str(h))}</th>" for h in header) + "</tr>")
        for row in rows:
            out.append("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>")
        out.append("</table>")
        self._parts.append("".join(out))
        return self

    def image(self, data: bytes, alt: str, caption: str | None = None, mime: str = "image/png") -> "Page":
        """Embed image bytes (PNG by default; ``mime='image/svg+xml'`` for SVG)."""
        uri = f"data:{mime};base64," + base64.b64encode(data).decode("ascii")
        cap = f"<figcaption>{html.escape(caption)}</figcaption>" if caption else ""
        self._parts.append(f'<figure><img src="{uri}" alt="{html.escape(alt)}">{cap}</figure>')
        return self

    def raw(self, markup: str) -> "Page":
        """Append markup as it is (the caller escapes what it interpolates)."""
        self._parts.append(markup)
        return self

    def render(self) -> str:
        from .. import __version__
        stamp = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
        body = "\n".join(self._parts)
        return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
                f"<title>{html.escape(self.title)}</title><style>{STYLE}</style></head>\n<body>\n{body}\n"
                f"<p class=\"meta\">written by glassnet {html.escape(__version__)} at {stamp}</p>\n"
                f"</body></html>\n")

    def write(self, path) -> pathlib.Path:
        """Write the page atomically (a temporary file in the same folder, then a rename)."""
        path = pathlib.Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(self.render())
            os.chmod(tmp, 0o666 & ~_umask())
            os.replace(tmp, path)
        except BaseException:
            pathlib.Path(tmp).unlink(missing_ok=True)
            raise
        return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
