"""Regenerate every committed figure from the code: ``python -m glassnet.experiments.figures``.

    python -m glassnet.experiments.figures                  # all of them, into docs/
    python -m glassnet.experiments.figures --only dropout report

Writes docs/<experiment>.png for each experiment (``glassnet experiment NAME``), the
``gn.plot`` gallery pictures (kernels.png, activation_functions.png, recurrent_states.png),
and docs/report.png: a screenshot, by headless Chromium, of the report that
``glassnet train --report`` writes for the default job (skipped, with a note, without Chromium).
"""
from __future__ import annotations

import argparse
import pathlib
import sys
import tempfile
import time

from . import EXPERIMENTS, default_output, module

DOCS = pathlib.Path(__file__).resolve().parents[2] / "docs"
GALLERY = ("kernels", "activation_functions", "recurrent_states")


def gallery(name: str, docs: pathlib.Path, log=print) -> None:
    from .. import backend, data, models, plot
    if name == "kernels":
        fig = plot.kernel_gallery()
    elif name == "activation_functions":
        fig = plot.activations()
    else:                                   # an LSTM reading a digit row by row, after a short training
        from ..training.recipes import train_classifier
        with tempfile.TemporaryDirectory() as runs:
            train_classifier("lstm", epochs=10, out_dir=runs, progress=False, log=lambda *a: None)
            backend.manual_seed(0)
            model = models.RowSequenceClassifier(8, 64, 10, cell="lstm")
            from ..io import load
            model.load_state_dict(load(pathlib.Path(runs) / "lstm-digits" / "model.safetensors"))
        X, _ = data.load_digits(images=True)
        fig = plot.recurrent_states(model, X[0], max_units=24)
    fig.savefig(docs / f"{name}.png", dpi=100)
    plot.close(fig)
    log(f"saved {docs / f'{name}.png'}")


def report_screenshot(docs: pathlib.Path, log=print) -> None:
    from ..report.browser import find_chromium, screenshot
    from ..training.recipes import train_classifier
    if find_chromium() is None:
        log("report.png skipped: headless Chromium is not installed (apt-get install chromium)")
        return
    import os
    here = os.getcwd()
    with tempfile.TemporaryDirectory() as folder:
        os.chdir(folder)                    # so the page names runs/mlp-digits/, as `glassnet train` would
        try:
            train_classifier(out_dir="runs", progress=False, report="run.html", log=lambda *a: None)
        finally:
            os.chdir(here)
        screenshot(pathlib.Path(folder) / "run.html", docs / "report.png", width=1100, height=4500)
    log(f"saved {docs / 'report.png'}")


def main(argv=None) -> int:
    names = [*EXPERIMENTS, *GALLERY, "report"]
    parser = argparse.ArgumentParser(prog="python -m glassnet.experiments.figures", description=__doc__.split("\n")[0])
    parser.add_argument("--only", nargs="+", choices=names, default=names, metavar="NAME",
                        help=f"which figures ({', '.join(names)})")
    parser.add_argument("--docs", type=pathlib.Path, default=DOCS, help=f"output folder (default: {DOCS})")
    args = parser.parse_args(argv)
    args.docs.mkdir(parents=True, exist_ok=True)
    for name in args.only:
        started = time.perf_counter()
        print(f"== {name}")
        if name in EXPERIMENTS:
            module(name).run(out=str(args.docs / default_output(name)))
        elif name in GALLERY:
            gallery(name, args.docs)
        else:
            report_screenshot(args.docs)
        print(f"   ({time.perf_counter() - started:.0f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
