"""The training report: one self-contained HTML page about a run, rewritten as it trains.

    trainer = gn.Trainer(model, opt, nn.CrossEntropyLoss(), report="run.html")
    trainer = gn.Trainer(..., report=TrainingReport("run.html", data=test_set, config={...}))

Sections: configuration, the layer table (``gn.summary``), curves, confusion matrix, a grid
of samples with predicted and true labels (misclassified first), gradient flow, timings,
and the glassnet version (in the footer). Pictures are PNGs embedded in the page (no
network, no JavaScript). Without matplotlib the page still holds every table and says how
to get the pictures.

The page is written atomically (``Page.write``) at the end of an epoch when at least
``min_interval`` seconds (and four times the last write's duration) have passed since the
last write, and always after the last epoch, so a person can reload it while training runs without slowing a fast run down.
``build_page`` renders from a history alone (``glassnet report runs/NAME/``).
"""
from __future__ import annotations

import json
import math
import pathlib
import time

from ..backend import xp
from .html import Page

SECTIONS = ("Configuration", "Model", "Curves", "Confusion matrix", "Samples", "Inside the model", "Gradient flow",
            "Timings")
PLOT_MISSING = "matplotlib is not installed, so this report has no pictures: pip install glassnet[plot]"


class TrainingReport:
    """Writes the HTML report for a ``Trainer`` (pass it as ``Trainer(report=...)``).

    Args:
        path: the .html file to write.
        data: labelled samples for the confusion matrix and the sample grid (a Dataset or an
            (inputs, targets) pair), e.g. the test set. Default: the validation data, if any.
        config: extra settings to list (model name, data set, seed, ...); written beside the
            checkpoint as 'report.json' so ``glassnet report`` can rebuild the page.
        title: the page title. Default: 'Training report: <model class>'.
        class_names: labels for the classes. Default: 0..K-1.
        min_interval: seconds between two epoch-end writes, at least four times the last write's
            duration (the final write always happens); 0 writes at the end of every epoch.
    """

    def __init__(self, path, data=None, config=None, title=None, class_names=None, min_interval: float = 5.0):
        self.path = pathlib.Path(path)
        self.data, self.config, self.title = data, dict(config or {}), title
        self.class_names, self.min_interval = class_names, min_interval
        self._last_write, self._render_seconds = -math.inf, 0.0

    def update(self, trainer, val_loader=None, final: bool = False) -> bool:
        """Rewrite the page if it is due (or ``final``); returns whether it was written."""
        now = time.monotonic()
        # due after min_interval, and after 4x the last render, so writing costs at most ~20% of the
        # run; min_interval=0 writes at every epoch end
        wait = max(self.min_interval, 4 * self._render_seconds) if self.min_interval > 0 else 0.0
        if not final and now - self._last_write < wait:
            return False
        data = self.data if self.data is not None else (val_loader.dataset if val_loader is not None else None)
        config = self.config_table(trainer)
        page = build_page(trainer.history, model=trainer.model, data=data, config=config,
                          title=self.title or f"Training report: {type(trainer.model).__name__}",
                          class_names=self.class_names, finished=final,
                          data_label="test" if self.data is not None else "validation")
        page.write(self.path)
        if trainer.checkpoint_dir is not None and self.config:
            _write_json(trainer.checkpoint_dir / "report.json", self.config)
        self._last_write = time.monotonic()
        self._render_seconds = self._last_write - now
        return True

    def config_table(self, trainer) -> dict:
        group = trainer.optimizer.param_groups[0]
        settings = {k: v for k, v in group.items() if k not in ("params", "initial_lr")
                    and isinstance(v, (int, float, str, tuple))}
        if "initial_lr" in group:                    # a scheduler moves lr: show the one the run started with
            settings["lr"] = group["initial_lr"]
        table = {k: v for k, v in self.config.items() if v is not None}
        table.update({
            "model": table.get("model", type(trainer.model).__name__),
            "parameters": f"{sum(p.numel() for p in trainer.model.parameters()):,}",
            "optimizer": f"{type(trainer.optimizer).__name__}({', '.join(f'{k}={_short(v)}' for k, v in settings.items())})",
            "loss": type(trainer.loss_fn).__name__,
            "scheduler": type(trainer.scheduler).__name__ if trainer.scheduler is not None else "none",
            "learning rate now": _short(group["lr"]),
            "gradient clipping": (f"norm {trainer.clip_grad_norm}" if trainer.clip_grad_norm is not None else
                                  f"value {trainer.clip_grad_value}" if trainer.clip_grad_value is not None else "none"),
            "epochs completed": trainer.epoch,
            "steps": trainer.global_step,
            "checkpoint": str(trainer.checkpoint_dir / "last.safetensors") if trainer.checkpoint_dir else "none",
        })
        return table


def _short(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _write_json(path, obj) -> None:
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(obj, indent=1, default=str), encoding="utf-8")
    tmp.replace(path)


def _plot():
    """glassnet.plot with matplotlib importable, or None."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return None
    from .. import plot
    return plot


def _arrays(data, limit: int = 5000):
    """(inputs, targets) arrays from a Dataset, DataLoader or (inputs, targets) pair (first ``limit``)."""
    from ..data.dataloader import DataLoader
    from ..tensor import Tensor
    if isinstance(data, (tuple, list)) and len(data) == 2:
        x, y = data
        return (x.numpy() if isinstance(x, Tensor) else xp.asarray(x))[:limit], \
            (y.numpy() if isinstance(y, Tensor) else xp.asarray(y))[:limit]
    loader = data if isinstance(data, DataLoader) else DataLoader(data, batch_size=256)
    xs, ys, n = [], [], 0
    for x, y in loader:
        xs.append(x.numpy())
        ys.append(y.numpy())
        n += len(y)
        if n >= limit:
            break
    return xp.concatenate(xs)[:limit], xp.concatenate(ys)[:limit]


def predictions(model, inputs, batch_size: int = 256):
    """Class predictions (argmax of the logits) of ``model`` in eval mode, without a graph."""
    from ..autograd import no_grad
    from ..tensor import Tensor
    was_training = model.training
    model.eval()
    out = []
    try:
        with no_grad():
            for start in range(0, len(inputs), batch_size):
                logits = model(Tensor._wrap(inputs[start:start + batch_size]))
                logits = logits[0] if isinstance(logits, (tuple, list)) else logits
                out.append(logits.numpy().argmax(axis=-1))
    finally:
        model.train(was_training)
    return xp.concatenate(out)


def _as_image(sample):
    """A sample as a 2-d image when it looks like one: (H, W), (1, H, W), or a square vector."""
    s = xp.asarray(sample)
    if s.ndim == 3 and s.shape[0] == 1:
        return s[0]
    if s.ndim == 2:
        return s
    if s.ndim == 1 and math.isqrt(s.size) ** 2 == s.size:
        return s.reshape(math.isqrt(s.size), -1)
    return None


def sample_order(targets, predicted):
    """Indices with the misclassified samples first (each group in data order)."""
    wrong = predicted != targets
    return xp.concatenate([xp.flatnonzero(wrong), xp.flatnonzero(~wrong)])


def samples_markup(inputs, targets, predicted, class_names=None, count: int = 32) -> str:
    """An HTML grid of ``count`` samples captioned 'predicted (true ...)', misclassified first.

    Each sample is its own small PNG (``png.gray_png``), drawn pixelated at 64 px, so the grid
    needs no matplotlib and its labels are text a reader (or a test) can find."""
    import base64
    import html

    from .png import gray_png
    names = class_names or [str(k) for k in range(int(max(targets.max(), predicted.max())) + 1)]
    cells = []
    for i in sample_order(targets, predicted)[:count]:
        ok = predicted[i] == targets[i]
        label = names[predicted[i]] + ("" if ok else f" (true {names[targets[i]]})")
        uri = "data:image/png;base64," + base64.b64encode(gray_png(_as_image(inputs[i]))).decode("ascii")
        cells.append(f'<figure class="{"right" if ok else "wrong"}"><img src="{uri}" alt="sample {int(i)}: '
                     f'{html.escape(label)}"><figcaption>{html.escape(label)}</figcaption></figure>')
    return f'<div class="samples">{"".join(cells)}</div>'


def _image(page, plot, fig, alt, caption=None):
    page.image(plot.to_bytes(fig, dpi=90), alt=alt, caption=caption)
    plot.close(fig)


def _inside(page, plot, model, inputs) -> None:
    """What the first layer learned (its filters as images) and, for a recurrent model, its
    gates and states over one sample; whatever does not apply to this model is left out."""
    if plot is None or model is None:
        page.paragraph("Needs the model" + (" and matplotlib (pip install glassnet[plot])." if plot is None else "."))
        return
    from ..nn import GRU, LSTM, RNN
    drawn = False
    try:
        if any(isinstance(m, (RNN, LSTM, GRU)) for m in model.modules()) and inputs is not None:
            _image(page, plot, plot.recurrent_states(model, inputs[0], max_units=24),
                   "gates and states over time for one sample",
                   "The first recurrent layer reading the first sample above: each gate, the cell state (LSTM) "
                   "and the hidden state, unit by unit (rows) over time (columns).")
            drawn = True
        else:
            _image(page, plot, plot.filters(model), "first-layer filters",
                   "The first layer's weights, one image per unit or channel (red positive, blue negative): "
                   "the pixel patterns each one responds to.")
            drawn = True
            from ..nn import Conv2d
            if inputs is not None and any(isinstance(m, Conv2d) for m in model.modules()):
                _image(page, plot, plot.feature_maps(model, inputs[0], max_maps=16), "feature maps of one sample",
                       "The first sample above through every convolution: what each channel of each layer sees.")
    except (ValueError, TypeError):         # no image-shaped first layer: nothing to draw
        pass
    if not drawn:
        page.paragraph("No image-shaped first layer or recurrent layer to draw.")


def build_page(history: dict, model=None, data=None, config=None, title: str = "Training report",
               class_names=None, finished: bool = True, data_label: str = "test") -> Page:
    """The report as a ``Page``, from a history and (optionally) the model and labelled data."""
    plot = _plot()
    epochs = len(history.get("loss", []))
    status = "finished" if finished else "in progress (reload to update)"
    page = Page(title, subtitle=f"{epochs} epoch{'s' if epochs != 1 else ''}, {status}")
    if plot is None:
        page.paragraph(PLOT_MISSING, css_class="note")
    contents = " · ".join(f'<a href="#{s.lower().replace(" ", "-")}">{s}</a>' for s in SECTIONS)
    page.raw(f'<p class="meta">{contents}</p>')

    page.heading("Configuration", id="configuration")
    from .. import __version__
    rows = [[k, v] for k, v in (config or {}).items()]
    rows.append(["glassnet", __version__])
    page.table(rows, header=["setting", "value"], css_class="settings")

    page.heading("Model", id="model")
    inputs = targets = None
    if data is not None:
        inputs, targets = _arrays(data)
    if model is not None and inputs is not None:
        from ..glassbox import summary
        from ..tensor import Tensor
        try:                                    # one real sample, so token ids stay integers
            table = summary(model, None, input=Tensor._wrap(inputs[:1]), verbose=0)
        except Exception as error:              # noqa: BLE001 - a report must not stop the training it describes
            page.paragraph(f"(the layer table could not be built: {error})")
            page.pre(repr(model))
        else:
            page.table([[r.name, r.kind, r.output, f"{r.params:,}"] for r in table.rows],
                       header=["layer", "type", "output", "parameters"])
            page.paragraph(f"{table.total_params:,} parameters in all.")
    elif model is not None:
        page.pre(repr(model))
    else:
        page.paragraph("No model given.")

    page.heading("Curves", id="curves")
    last = {k: history[k][-1] for k in ("loss", "accuracy", "val_loss", "val_accuracy") if history.get(k)}
    if last:
        page.table([[k, f"{v:.4f}"] for k, v in last.items()], header=["last epoch", "value"])
    if plot is not None and epochs:
        _image(page, plot, plot.training_curves(history), "loss and accuracy per epoch",
               "Left: training loss per step (faint), smoothed, and per epoch; validation loss when there is one. "
               "Right: accuracy per epoch.")

    page.heading("Confusion matrix", id="confusion-matrix")
    predicted = None
    if model is not None and inputs is not None and targets.dtype.kind in "iu" and targets.ndim == 1:
        from ..plot.confusion import confusion_matrix, per_class_accuracy
        predicted = predictions(model, inputs)
    if predicted is not None and predicted.shape == targets.shape:      # one class per sample
        counts = confusion_matrix(targets, predicted)
        accuracy = float(xp.trace(counts) / max(counts.sum(), 1))
        page.paragraph(f"{len(targets)} {data_label} samples, {100 * accuracy:.2f}% correct; "
                       f"rows are the true class, columns the predicted one.")
        if plot is not None:
            _image(page, plot, plot.confusion(counts, class_names, title=f"{data_label} set"), "confusion matrix")
        else:
            page.table([[k, *row, f"{100 * a:.0f}%"] for k, (row, a) in enumerate(zip(counts, per_class_accuracy(counts)))],
                       header=["true \\ predicted", *range(len(counts)), "accuracy"])
    else:
        predicted = None
        page.paragraph("Needs the model and data labelled with one class per sample "
                       "(e.g. TrainingReport(data=test_set)).")

    page.heading("Samples", id="samples")
    if predicted is not None and _as_image(inputs[0]) is not None:
        wrong = int((predicted != targets).sum())
        page.paragraph(f"{wrong} of {len(targets)} {data_label} samples misclassified; they come first, in red, "
                       f"titled 'predicted (true label)'. Correct ones are titled with the prediction, in green.")
        page.raw(samples_markup(inputs, targets, predicted, class_names))
    else:
        page.paragraph("Needs the model and labelled image data.")

    page.heading("Inside the model", id="inside-the-model")
    _inside(page, plot, model, inputs)

    page.heading("Gradient flow", id="gradient-flow")
    from .gradient_flow import from_history
    names, means, maxes = from_history(history)
    if names:
        from ..plot.gradients import VANISHED, vanished_layers
        dead = vanished_layers(history)
        page.paragraph(f"Mean and max |dL/dW| per weight over each epoch's steps (before clipping). "
                       + (f"Vanished (mean below {VANISHED:g} of the largest layer's): {', '.join(dead)}."
                          if dead else "No layer's gradient vanished in the last epoch."))
        if plot is not None:
            _image(page, plot, plot.gradient_flow(history), "gradient flow per layer")
        page.table([[n, f"{means[-1, j]:.3g}", f"{maxes[-1, j]:.3g}"] for j, n in enumerate(names)],
                   header=["weight", "mean |grad|, last epoch", "max |grad|, last epoch"])
    else:
        page.paragraph("No per-layer gradients in this history (recorded by gn.Trainer).")

    page.heading("Timings", id="timings")
    times = history.get("time", [])
    if times:
        steps = len(history.get("step_loss", []))
        total = float(sum(times))
        rows = [["epochs", epochs], ["training time", f"{total:.2f} s"],
                ["per epoch (mean)", f"{total / len(times):.3f} s"]]
        if steps:
            rows.append(["steps", steps])
            rows.append(["steps per second", f"{steps / total:.0f}" if total else "-"])
        page.table(rows, css_class="settings")
        page.raw("<details><summary>per epoch</summary>")          # folded: a long run has many rows
        page.table([[e + 1, f"{t:.3f}", f"{history['lr'][e]:.3g}" if e < len(history.get("lr", [])) else "-"]
                    for e, t in enumerate(times)], header=["epoch", "seconds", "learning rate"])
        page.raw("</details>")
    else:
        page.paragraph("No timings recorded.")
    return page
