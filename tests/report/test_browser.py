"""The report opened in a real browser: headless Chromium renders every section and image.

Needs Debian's ``chromium`` package; .ci/run installs it, so CI never skips this.
"""
import importlib.util
import re

import numpy as np
import pytest

import glassnet as gn
import glassnet.nn as nn
from glassnet.report.browser import find_chromium, loaded_dom, screenshot
from glassnet.report.training import SECTIONS, TrainingReport

pytestmark = [pytest.mark.slow,       # end to end: a training run, then a browser (CI runs -m slow too)
              pytest.mark.skipif(find_chromium() is None,
                                 reason="needs headless Chromium: apt-get install chromium (.ci/run installs it)")]


@pytest.fixture(scope="module")
def report_page(tmp_path_factory):
    folder = tmp_path_factory.mktemp("report")
    gn.manual_seed(0)
    X, y = gn.data.load_digits()
    train, test = gn.data.random_split(gn.data.TensorDataset(X, y), [0.8, 0.2], generator=0)
    model = gn.models.mlp()
    trainer = gn.Trainer(model, gn.optim.Adam(model.parameters()), nn.CrossEntropyLoss(), progress=False,
                         verbose=False, report=TrainingReport(folder / "run.html", data=test))
    trainer.fit(train, epochs=3, batch_size=64)
    return folder / "run.html"


def test_every_section_and_image_renders(report_page):
    dom = loaded_dom(report_page)
    assert 'data-measured="yes"' in dom                               # the load handler ran
    headings = re.findall(r"<h2[^>]*>([^<]*)</h2>", dom)
    assert headings == list(SECTIONS)
    images = re.findall(r"<img ([^>]*)>", dom)
    pictures = 4 if importlib.util.find_spec("matplotlib") else 0     # curves, confusion, filters, gradients
    assert len(images) == pictures + 32
    for attributes in images:
        width = int(re.search(r'data-natural-width="(\d+)"', attributes).group(1))
        height = int(re.search(r'data-natural-height="(\d+)"', attributes).group(1))
        assert width > 0 and height > 0, attributes[:120]


def test_screenshot_is_not_blank(report_page, tmp_path):
    plt = pytest.importorskip("matplotlib.pyplot")
    shot = screenshot(report_page, tmp_path / "shot.png", width=1000, height=1600)
    pixels = plt.imread(shot)[..., :3]
    assert pixels.shape[:2] == (1600, 1000)
    ink = (pixels.mean(axis=2) < 0.9).mean()                          # share of pixels that are not near-white
    assert ink > 0.02, f"only {ink:.2%} of the screenshot is drawn"
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 50         # text, tables, plots: many colours
