"""``glassnet report runs/NAME/``: rebuild the HTML training report from a checkpoint directory."""
from __future__ import annotations

import json
import pathlib
import sys


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "report", help="rebuild a run's HTML training report from its checkpoint directory",
        description="Read RUN_DIR/last.safetensors (history and weights) and write a self-contained HTML "
                    "report. Runs of `glassnet train` also get the confusion matrix and sample grid on their "
                    "test set (the model and data come from RUN_DIR/report.json, or from the directory's "
                    "name MODEL-DATA with seed 0).")
    p.add_argument("run_dir", help="a checkpoint directory, e.g. runs/mlp-digits/")
    p.add_argument("--out", default=None, help="the HTML file to write (default: RUN_DIR/report.html)")


def _recipe(run_dir: pathlib.Path) -> dict:
    """The run's settings: report.json if the run wrote one, else guessed from 'MODEL-DATA'."""
    saved = run_dir / "report.json"
    if saved.exists():
        return json.loads(saved.read_text(encoding="utf-8"))
    model, _, data = run_dir.resolve().name.rpartition("-")
    return {"model": model, "data": data, "seed": 0, "note": "settings guessed from the directory name"}


def run(args) -> int:
    run_dir = pathlib.Path(args.run_dir)
    checkpoint = run_dir / "last.safetensors"
    if not checkpoint.exists():
        print(f"glassnet report: no checkpoint {checkpoint} (expected a directory written by "
              f"glassnet train or Trainer(checkpoint_dir=...))", file=sys.stderr)
        return 1
    from ..io import load
    from ..io.serialization import CheckpointError
    from ..report.training import build_page
    try:
        state = load(checkpoint)
    except (CheckpointError, OSError, ValueError) as error:
        print(f"glassnet report: cannot read {checkpoint}: {error}", file=sys.stderr)
        return 1
    history = {k: list(v) for k, v in state.get("history", {}).items()}
    config = _recipe(run_dir)
    model = data = None
    from ..training.recipes import CLASSIFIERS, load_classification_data
    if config.get("model") in CLASSIFIERS and config.get("data") in ("digits", "mnist"):
        from .. import models
        build, layout, _, _ = CLASSIFIERS[config["model"]]
        model = models.mlp(784, (256, 128), 10) if (config["model"], config["data"]) == ("mlp", "mnist") else build()
        try:
            model.load_state_dict(state["model"])
            _, data = load_classification_data(config["data"], layout, config.get("data_path"), int(config.get("seed", 0)))
        except (KeyError, RuntimeError, ValueError, SystemExit, OSError) as error:
            print(f"glassnet report: the weights or data of {config['model']}-{config['data']} could not be "
                  f"restored ({error}); writing the history-only report", file=sys.stderr)
            model = data = None
    config.update({"epochs completed": int(state.get("epoch", len(history.get("loss", [])))),
                   "steps": int(state.get("global_step", 0)), "checkpoint": str(checkpoint)})
    title = (f"glassnet train --model {config['model']} --data {config['data']}" if model is not None
             else f"Training report: {run_dir.resolve().name}")
    page = build_page(history, model=model, data=data, config=config, title=title)
    out = page.write(args.out or run_dir / "report.html")
    print(f"wrote {out}")
    return 0
