"""``Trainer``: the training loop, with everything a real run needs around it.

    trainer = gn.Trainer(model, gn.optim.Adam(model.parameters()), nn.CrossEntropyLoss(),
                         checkpoint_dir="runs/mlp")
    history = trainer.fit((X_train, y_train), epochs=20, batch_size=64, val_split=0.1)
    trainer.evaluate((X_test, y_test))          # {'loss': ..., 'accuracy': ...}

Each step: forward, loss, backward, optional gradient clipping, optimizer step. Each
epoch: validation, history, a checkpoint (model, optimizer, scheduler, RNG state and
history, written atomically), early stopping. ``fit`` on a directory holding a checkpoint
resumes exactly where it stopped: the same batches, dropout masks and updates follow as
if the run had never been interrupted.
"""
from __future__ import annotations

import math
import pathlib
import sys
import time

from .. import backend
from ..autograd import grad_mode
from ..data.dataloader import DataLoader
from ..data.dataset import Dataset, TensorDataset, random_split
from ..io import load, save
from ..nn.utils import clip_grad_norm_, clip_grad_value_
from ..tensor import Tensor
from .callbacks import EarlyStopping
from .metrics import accuracy_counts


class TrainingError(RuntimeError):
    """Training cannot go on (a loss or gradient norm that is NaN or infinite)."""


def _as_dataset(data):
    if isinstance(data, (Dataset, DataLoader)):
        return data
    if isinstance(data, (tuple, list)) and len(data) == 2:
        return TensorDataset(*data)
    raise TypeError(f"expected a Dataset, a DataLoader or an (inputs, targets) pair, got {type(data).__name__}")


class Trainer:
    """Fits a model with an optimizer and a loss.

    Args:
        model: the Module to train.
        optimizer: a ``gn.optim`` optimizer over the model's (trainable) parameters.
        loss_fn: callable (output, target) -> scalar loss, e.g. ``nn.CrossEntropyLoss()``.
        metrics: names of metrics to track; 'accuracy' is built in.
        scheduler: an lr scheduler stepped once per epoch (ReduceLROnPlateau gets val_loss).
        clip_grad_norm / clip_grad_value: clip gradients before each step; the pre-clip
            norm is logged in the history as 'grad_norm' (epoch mean) and 'grad_norm_max'.
        checkpoint_dir: if set, 'last.safetensors' is written after every epoch (and
            'best.safetensors' when the monitored value improves); ``fit`` resumes from it.
        early_stopping: an ``EarlyStopping`` or an int patience on 'val_loss'.
        output_transform: applied to the model's output before the loss (e.g. pick logits
            from a (logits, state) pair).
        progress: show a tqdm bar per epoch; None = only when stderr is a terminal.
        verbose: print one summary line per epoch.
    """

    def __init__(self, model, optimizer, loss_fn, metrics=("accuracy",), scheduler=None,
                 clip_grad_norm=None, clip_grad_value=None, checkpoint_dir=None, early_stopping=None,
                 output_transform=None, progress=None, verbose: bool = True, log=print):
        self.model, self.optimizer, self.loss_fn = model, optimizer, loss_fn
        self.metrics, self.scheduler = tuple(metrics), scheduler
        self.clip_grad_norm, self.clip_grad_value = clip_grad_norm, clip_grad_value
        self.checkpoint_dir = pathlib.Path(checkpoint_dir) if checkpoint_dir else None
        if isinstance(early_stopping, int) and not isinstance(early_stopping, bool):
            early_stopping = EarlyStopping(patience=early_stopping)
        self.early_stopping = early_stopping
        self.output_transform = output_transform
        self.progress = sys.stderr.isatty() if progress is None else progress
        self.verbose, self.log = verbose, log
        self.history: dict = {}
        self.epoch = 0          # epochs completed
        self.global_step = 0

    # ------------------------------------------------------------------ fit
    def fit(self, train_data, epochs: int = 10, batch_size: int = 32, val_data=None, val_split: float = 0.0,
            shuffle: bool = True, resume: bool = True, split_seed: int = 0) -> dict:
        """Train until ``epochs`` epochs are complete (counting those of a resumed run).

        Args:
            train_data: a Dataset, a DataLoader, or an (inputs, targets) pair of Tensors.
            val_data: the same kinds, for validation after every epoch.
            val_split: fraction of ``train_data`` held out for validation instead (seeded by ``split_seed``).
            resume: continue from ``checkpoint_dir/last.safetensors`` if it exists.
        Returns:
            the history: lists per epoch ('loss', 'accuracy', 'val_loss', 'val_accuracy', 'lr', ...).
        """
        train = _as_dataset(train_data)
        if val_split:
            if isinstance(train, DataLoader) or val_data is not None:
                raise ValueError("fit: val_split needs a Dataset or tensors (not a DataLoader) and no val_data")
            n_val = int(round(len(train) * val_split))
            train, val_data = random_split(train, [len(train) - n_val, n_val], generator=split_seed)
        loader = train if isinstance(train, DataLoader) else DataLoader(train, batch_size, shuffle=shuffle)
        val_loader = None
        if val_data is not None:
            val = _as_dataset(val_data)
            val_loader = val if isinstance(val, DataLoader) else DataLoader(val, max(batch_size, 256))

        if resume and self.checkpoint_dir is not None and (self.checkpoint_dir / "last.safetensors").exists():
            self.load_checkpoint(self.checkpoint_dir / "last.safetensors", loader)
            if self.verbose:
                self.log(f"resumed from {self.checkpoint_dir / 'last.safetensors'} after epoch {self.epoch}")
            planned = getattr(self.scheduler, "T_max", None)       # a schedule planned in epochs
            if planned is not None and self.epoch < epochs and planned < epochs:
                self.log(f"note: the resumed learning-rate schedule was planned for {planned} epochs "
                         f"(T_max={planned}); epochs {max(planned, self.epoch) + 1}-{epochs} run past its end, where a cosine "
                         f"schedule starts a new cycle from eta_min. Start a fresh run (--fresh) to plan "
                         f"{epochs} epochs.")

        while self.epoch < epochs:
            started = time.perf_counter()
            record = self._train_epoch(loader, epochs)
            if val_loader is not None:
                record.update({f"val_{k}": v for k, v in self.evaluate(val_loader).items()})
            record["lr"] = self.optimizer.param_groups[0]["lr"]
            record["time"] = time.perf_counter() - started
            self.epoch += 1
            for k, v in record.items():
                self.history.setdefault(k, []).append(v)
            self._step_scheduler(record)
            stop = self._early_stop(record)
            if self.checkpoint_dir is not None:
                self.save_checkpoint(self.checkpoint_dir / "last.safetensors", loader)
            if self.verbose:
                self.log(self._summary_line(record, epochs))
            if stop:
                if self.verbose:
                    self.log(f"early stopping: {self.early_stopping.monitor} has not improved for "
                             f"{self.early_stopping.patience} epochs (best {self.early_stopping.best:.4f} "
                             f"at epoch {self.early_stopping.best_epoch})")
                break
        if self.early_stopping is not None and self.early_stopping.best_state is not None \
                and self.early_stopping.restore_best_weights:
            self.model.load_state_dict(self.early_stopping.best_state)
        return self.history

    def _forward_loss(self, x, y):
        out = self.model(x)
        if self.output_transform is not None:
            out = self.output_transform(out)
        return out, self.loss_fn(out, y)

    def _train_epoch(self, loader, epochs):
        self.model.train()
        total_loss, seen, correct, counted = 0.0, 0, 0, 0
        norms = []
        batches = loader
        bar = None
        if self.progress:
            from tqdm.auto import tqdm
            bar = batches = tqdm(loader, desc=f"epoch {self.epoch + 1}/{epochs}", leave=False, unit="batch")
        for step, (x, y) in enumerate(batches):
            out, loss = self._forward_loss(x, y)
            value = loss.item()
            if not math.isfinite(value):
                raise TrainingError(
                    f"loss is {value} at epoch {self.epoch + 1}, step {step + 1} (global step "
                    f"{self.global_step + 1}): training stopped. Lower the learning rate "
                    f"(now {self.optimizer.param_groups[0]['lr']:g}), clip gradients, or check the inputs.")
            self.optimizer.zero_grad()
            loss.backward()
            if self.clip_grad_norm is not None:
                norm = float(clip_grad_norm_(self.model.parameters(), self.clip_grad_norm))
                if not math.isfinite(norm):
                    raise TrainingError(f"gradient norm is {norm} at epoch {self.epoch + 1}, step {step + 1}: "
                                        f"training stopped before the update could corrupt the weights")
                norms.append(norm)
            if self.clip_grad_value is not None:
                clip_grad_value_(self.model.parameters(), self.clip_grad_value)
            self.optimizer.step()
            self.global_step += 1
            n = len(y)
            total_loss += value * n
            seen += n
            if "accuracy" in self.metrics:
                c, k = accuracy_counts(out._data, y._data, getattr(self.loss_fn, "ignore_index", -100))
                correct, counted = correct + c, counted + k
            if bar is not None:
                bar.set_postfix(loss=f"{total_loss / seen:.4f}")
        if bar is not None:
            bar.close()
        record = {"loss": total_loss / max(seen, 1)}
        if "accuracy" in self.metrics:
            record["accuracy"] = correct / max(counted, 1)
        if norms:
            record["grad_norm"] = sum(norms) / len(norms)
            record["grad_norm_max"] = max(norms)
        return record

    def evaluate(self, data, batch_size: int = 256) -> dict:
        """Mean loss (and accuracy) over ``data`` in eval mode, without recording a graph."""
        data = _as_dataset(data)
        loader = data if isinstance(data, DataLoader) else DataLoader(data, batch_size)
        was_training = self.model.training
        self.model.eval()
        total, seen, correct, counted = 0.0, 0, 0, 0
        with grad_mode.no_grad():
            for x, y in loader:
                out, loss = self._forward_loss(x, y)
                total += loss.item() * len(y)
                seen += len(y)
                if "accuracy" in self.metrics:
                    c, k = accuracy_counts(out._data, y._data, getattr(self.loss_fn, "ignore_index", -100))
                    correct, counted = correct + c, counted + k
        self.model.train(was_training)
        result = {"loss": total / max(seen, 1)}
        if "accuracy" in self.metrics:
            result["accuracy"] = correct / max(counted, 1)
        return result

    def predict(self, inputs, batch_size: int = 256) -> Tensor:
        """Model outputs for ``inputs`` (a Tensor), in eval mode, batched, without a graph."""
        self.model.eval()
        outs = []
        with grad_mode.no_grad():
            for start in range(0, len(inputs), batch_size):
                out = self.model(inputs[start:start + batch_size])
                outs.append(out if self.output_transform is None else self.output_transform(out))
        from ..tensor import cat
        return cat(outs)

    # -------------------------------------------------------- epoch hooks
    def _step_scheduler(self, record):
        if self.scheduler is None:
            return
        if hasattr(self.scheduler, "best"):  # ReduceLROnPlateau watches a metric
            self.scheduler.step(record.get("val_loss", record["loss"]))
        else:
            self.scheduler.step()

    def _early_stop(self, record) -> bool:
        es = self.early_stopping
        if es is None:
            return False
        if es.monitor not in record:
            raise KeyError(f"EarlyStopping monitors {es.monitor!r}, which is not in the history "
                           f"({sorted(record)}); pass val_data or val_split for 'val_*' values")
        improved = es.improved(record[es.monitor])
        stop = es.update(self.epoch, record[es.monitor], self.model)
        if improved and self.checkpoint_dir is not None:
            save({"model": self.model.state_dict(), "epoch": self.epoch, es.monitor: record[es.monitor]},
                 self.checkpoint_dir / "best.safetensors")
        return stop

    def _summary_line(self, record, epochs) -> str:
        parts = [f"epoch {self.epoch}/{epochs}"]
        for key in ("loss", "accuracy", "val_loss", "val_accuracy", "grad_norm"):
            if key in record:
                parts.append(f"{key} {record[key]:.4f}")
        parts.append(f"lr {record['lr']:.3g}")
        parts.append(f"{record['time']:.1f}s")
        return "  ".join(parts)

    # --------------------------------------------------------- checkpoints
    def save_checkpoint(self, path, loader=None) -> None:
        """Everything needed to continue exactly: weights, optimizer, scheduler, RNGs, history."""
        state = {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "epoch": self.epoch,
            "global_step": self.global_step,
            "history": self.history,
            "rng": backend.rng().bit_generator.state,
        }
        if loader is not None and getattr(loader, "_seeded", None) is not None:
            state["loader_rng"] = loader._seeded.bit_generator.state
        if self.scheduler is not None:
            state["scheduler"] = self.scheduler.state_dict()
        if self.early_stopping is not None:
            state["early_stopping"] = self.early_stopping.state_dict()
        save(state, path)

    def load_checkpoint(self, path, loader=None) -> None:
        state = load(path)
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.epoch, self.global_step = int(state["epoch"]), int(state["global_step"])
        self.history = {k: list(v) for k, v in state["history"].items()}
        backend.rng().bit_generator.state = state["rng"]
        if loader is not None and "loader_rng" in state and getattr(loader, "_seeded", None) is not None:
            loader._seeded.bit_generator.state = state["loader_rng"]
        if self.scheduler is not None and "scheduler" in state:
            self.scheduler.load_state_dict(state["scheduler"])
        if self.early_stopping is not None and "early_stopping" in state:
            self.early_stopping.load_state_dict(state["early_stopping"])
