"""Open a report in headless Chromium: a screenshot, and the DOM after the page has loaded.

Used by the tests (is every section there, does every image decode?) and by the script that
regenerates ``docs/report.png``. Needs Debian's ``chromium`` package (``apt-get install
chromium``); ``find_chromium()`` returns None without it.
"""
from __future__ import annotations

import pathlib
import shutil
import subprocess
import tempfile

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars")

# Appended to a *copy* of the page (the report itself has no script): after every image has
# loaded, write each one's decoded size into the DOM, where --dump-dom can read it.
MEASURE_IMAGES = """<script>
window.addEventListener("load", function () {
  for (const img of document.images) {
    img.setAttribute("data-natural-width", img.naturalWidth);
    img.setAttribute("data-natural-height", img.naturalHeight);
  }
  document.body.setAttribute("data-measured", "yes");
});
</script>"""


def find_chromium():
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


def _run(args, html_path, timeout: float):
    chromium = find_chromium()
    if chromium is None:
        raise FileNotFoundError("headless Chromium is not installed (Debian: apt-get install chromium)")
    with tempfile.TemporaryDirectory(prefix="glassnet-chromium-") as profile:
        command = [chromium, *FLAGS, f"--user-data-dir={profile}", *args,
                   pathlib.Path(html_path).resolve().as_uri()]
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=True)


def screenshot(html_path, png_path, width: int = 1200, height: int = 2000, timeout: float = 60) -> pathlib.Path:
    """Render the page at width x height CSS pixels and save a PNG of that viewport."""
    png_path = pathlib.Path(png_path).resolve()
    _run([f"--window-size={width},{height}", f"--screenshot={png_path}", "--virtual-time-budget=5000"],
         html_path, timeout)
    return png_path


def loaded_dom(html_path, timeout: float = 60) -> str:
    """The DOM after load of a copy of the page with ``MEASURE_IMAGES`` appended: every <img>
    carries data-natural-width / data-natural-height (0 for an image that did not decode)."""
    text = pathlib.Path(html_path).read_text(encoding="utf-8").replace("</body>", MEASURE_IMAGES + "</body>")
    with tempfile.TemporaryDirectory(prefix="glassnet-dom-") as folder:
        copy = pathlib.Path(folder) / "page.html"
        copy.write_text(text, encoding="utf-8")
        return _run(["--dump-dom", "--virtual-time-budget=5000"], copy, timeout).stdout
