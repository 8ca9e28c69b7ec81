"""``Trainer``: the training loop, with everything a real run needs around it.

    trainer = gn.Trainer(model, gn.optim.Adam(model.parameters()), nn.CrossEntropyLoss(),
                         checkpoint_dir="runs/mlp")
    history = trainer.fit((X_train, y_train), epochs=20, batch_size=64, val_split=0.1)
    trainer.evaluate((X_test, y_test))          # {'loss': ..., 'accuracy': ...}

Each step: forward, loss, backward, optional gradient clipping, optimizer step. Each
epoch: validation, history, a checkpoint (model, optimizer, scheduler, RNG state and
history, written atomically), early stopping. ``fit`` on a directory holding a checkpoint
resumes exactly where it stopped: the same batches, dropout masks and updates follow as
if the run had never been interrupted (what a checkpoint holds: ``training/checkpoint.py``).
"""
from __future__ import annotations

import math
import pathlib
import sys
import time

from .. import backend, threads
from ..autograd import grad_mode
from ..data.dataloader import DataLoader
from ..data.dataset import Dataset, TensorDataset, random_split
from ..distributed.training import DataParallelRun
from ..io import load, save
from ..nn.utils import clip_grad_norm_, clip_grad_value_
from ..tensor import Tensor
from ..report.gradient_flow import LayerGradients
from . import checkpoint
from .callbacks import EarlyStopping
from .metrics import accuracy_counts
from .run_lock import RunLock
from .tbptt import as_tbptt, detach_state


class TrainingError(RuntimeError):
    """Training cannot go on (a loss or gradient norm that is NaN or infinite)."""


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C during ``fit``: a KeyboardInterrupt that says where the last checkpoint is.

    Attributes: ``checkpoint`` (a path, or None when none was written), ``epoch`` and
    ``step`` (completed epochs and optimizer steps that checkpoint holds).
    """

    def __init__(self, checkpoint=None, epoch=None, step=None):
        self.checkpoint, self.epoch, self.step = checkpoint, epoch, step
        if checkpoint is None:
            text = "training interrupted before any checkpoint was written"
        else:
            text = f"training interrupted; the last checkpoint is {checkpoint} (epoch {epoch}, step {step})"
        super().__init__(text)


def _check_batches(loader, what: str) -> None:
    """Refuse data that would train or evaluate on nothing (and report loss 0.0)."""
    try:
        samples, batches = len(loader.dataset), len(loader)
    except TypeError:             # a dataset without a length: checked after the loop instead
        return
    if samples == 0:
        raise ValueError(f"{what} is empty (0 samples)")
    if batches == 0:
        raise ValueError(f"{what} yields no batches: {samples} samples, batch_size {loader.batch_size}, "
                         f"drop_last={loader.drop_last}")


def _batches(loader):
    """How many batches the loader yields per epoch (None for an iterable without a length)."""
    try:
        return len(loader)
    except TypeError:
        return None


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
        tbptt: truncated backpropagation through time for a recurrent model called as
            ``model(x, state) -> (output, state)``: a window length K or a
            :class:`~glassnet.training.tbptt.TBPTT`. Each batch is cut along time into
            windows of K steps, one optimizer step per window, the state carried on detached
            (teacher forcing for aligned sequence targets; see ``TBPTT``).
        checkpoint_every_steps / checkpoint_every_seconds: also write 'last.safetensors'
            every N optimizer steps / M seconds within an epoch (a kill loses at most that
            much); ``fit`` resumes from such a checkpoint mid-epoch, exactly.
        checkpoint_metadata: a dict stored in every checkpoint under 'metadata' (what a
            program needs to use the weights later: a vocabulary, a configuration).
        report: a path (or a ``glassnet.report.TrainingReport``): a self-contained HTML page
            about the run, rewritten at the end of epochs and after the last one.

    Besides the per-epoch values, the history holds 'step_loss' (every step's training loss)
    and 'grad_mean/<weight>' / 'grad_max/<weight>' (mean and max |grad| per epoch, before clipping).
    """

    def __init__(self, model, optimizer, loss_fn, metrics=("accuracy",), scheduler=None,
                 clip_grad_norm=None, clip_grad_value=None, checkpoint_dir=None, early_stopping=None,
                 output_transform=None, progress=None, verbose: bool = True, log=print, report=None,
                 tbptt=None, checkpoint_every_steps=None, checkpoint_every_seconds=None, checkpoint_metadata=None):
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
        if isinstance(report, (str, pathlib.Path)):      # a path: the HTML training report (glassnet.report)
            from ..report.training import TrainingReport
            report = TrainingReport(report)
        self.report = report
        self._layer_grads = LayerGradients()
        self.history: dict = {}
        self.epoch = 0          # epochs completed
        self.global_step = 0
        self.tbptt = as_tbptt(tbptt)
        for name, value in (("checkpoint_every_steps", checkpoint_every_steps),
                            ("checkpoint_every_seconds", checkpoint_every_seconds)):
            if value is not None and not value > 0:
                raise ValueError(f"Trainer: {name} must be positive, got {value!r}")
        self.checkpoint_every_steps, self.checkpoint_every_seconds = checkpoint_every_steps, checkpoint_every_seconds
        self.checkpoint_metadata = checkpoint_metadata
        # the learning rates asked for at construction: resuming with other ones applies them
        self._base_lrs = [g.get("initial_lr", g["lr"]) for g in optimizer.param_groups]
        self.last_checkpoint, self._checkpoint_epoch, self._checkpoint_step = None, None, None
        self._position = None         # where a mid-epoch checkpoint stopped (set by load_checkpoint)
        self._last_save = time.perf_counter()
        self.stopped_by_time = False
        self._parallel = None         # a DataParallelRun under mpiexec (glassnet/distributed/training.py)

    # ------------------------------------------------------------------ fit
    def fit(self, train_data, epochs=10, batch_size: int = 32, val_data=None, val_split: float = 0.0,
            shuffle: bool = True, resume: bool = True, split_seed: int = 0, max_time=None) -> dict:
        """Train until ``epochs`` epochs are complete (counting those of a resumed run).

        Args:
            train_data: a Dataset, a DataLoader, or an (inputs, targets) pair of Tensors.
            val_data: the same kinds, for validation after every epoch.
            val_split: fraction of ``train_data`` held out for validation instead (seeded by ``split_seed``).
            resume: continue from ``checkpoint_dir/last.safetensors`` if it exists (mid-epoch
                too), with the learning rates of this optimizer where they differ from the run's.
            max_time: seconds this call may run, validation included (None: no limit). When
                it runs out, a checkpoint is written where training stopped, mid-epoch if need
                be, and ``fit`` returns with ``self.stopped_by_time`` True. ``epochs=None``
                trains until then.
        Raises:
            ValueError: empty data; RunLockedError: another live training holds
            ``checkpoint_dir``; CheckpointError: an unreadable checkpoint, or one holding NaN;
            TrainingError: a non-finite loss; TrainingInterrupted: Ctrl-C.
        Returns:
            the history: lists per epoch ('loss', 'accuracy', 'val_loss', 'val_accuracy', 'lr', ...).
        """
        train = _as_dataset(train_data)
        if val_split:
            if isinstance(train, DataLoader) or val_data is not None:
                raise ValueError("fit: val_split needs a Dataset or tensors (not a DataLoader) and no val_data")
            n_val = int(round(len(train) * val_split))
            train, val_data = random_split(train, [len(train) - n_val, n_val], generator=split_seed)
        if epochs is None and max_time is None:
            raise ValueError("Trainer.fit: epochs=None trains until max_time runs out; give one of them")
        loader = train if isinstance(train, DataLoader) else DataLoader(train, batch_size, shuffle=shuffle)
        self._parallel = DataParallelRun.current()      # in a process group: average, shard, write on rank 0
        if self._parallel is not None:
            loader = self._parallel.setup(self, train, loader, batch_size, shuffle)
        _check_batches(loader, "Trainer.fit: the training data")
        val_loader = None
        if val_data is not None:
            val = _as_dataset(val_data)
            val_loader = val if isinstance(val, DataLoader) else DataLoader(val, max(batch_size, 256))
            _check_batches(val_loader, "Trainer.fit: the validation data")
        deadline = None if max_time is None else time.perf_counter() + max_time
        self.stopped_by_time = False
        writes = self.checkpoint_dir is not None and (self._parallel is None or self._parallel.main)
        lock = RunLock(self.checkpoint_dir, self.log) if writes else None
        if lock is not None:
            lock.acquire()
        try:
            return self._fit(loader, val_loader, epochs, resume, deadline)
        except KeyboardInterrupt:
            raise TrainingInterrupted(self.last_checkpoint, self._checkpoint_epoch, self._checkpoint_step) from None
        finally:
            if lock is not None:
                lock.release()

    def _fit(self, loader, val_loader, epochs, resume, deadline):
        total_epochs = math.inf if epochs is None else epochs
        if resume and self.checkpoint_dir is not None and (self.checkpoint_dir / "last.safetensors").exists():
            self.load_checkpoint(self.checkpoint_dir / "last.safetensors", loader)
            if self.verbose:
                where = f"after epoch {self.epoch}" if self._position is None else \
                    f"in epoch {self.epoch + 1} (step {self.global_step})"
                self.log(f"resumed from {self.checkpoint_dir / 'last.safetensors'} {where}")
            planned = getattr(self.scheduler, "T_max", None)       # a schedule planned in epochs
            if planned is not None and epochs is not None and self.epoch < epochs and planned < epochs:
                self.log(f"note: the resumed learning-rate schedule was planned for {planned} epochs "
                         f"(T_max={planned}); epochs {max(planned, self.epoch) + 1}-{epochs} run past its end, where a cosine "
                         f"schedule starts a new cycle from eta_min. Start a fresh run to plan "
                         f"{epochs} epochs.")

        val_seconds = 0.0
        while self.epoch < total_epochs:
            started = time.perf_counter()
            if deadline is not None and started + val_seconds >= deadline:
                self._stop_for_time(loader)
                break
            # leave room for this epoch's validation, as long as the last one took
            record = self._train_epoch(loader, epochs, None if deadline is None else deadline - val_seconds)
            if record is None:
                self._stop_for_time(loader)
                break
            if val_loader is not None:
                val_started = time.perf_counter()
                record.update({f"val_{k}": v for k, v in self.evaluate(val_loader).items()})
                val_seconds = time.perf_counter() - val_started
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
            if self.report is not None:
                self.report.update(self, val_loader)
            if stop:
                if self.verbose:
                    self.log(f"early stopping: {self.early_stopping.monitor} has not improved for "
                             f"{self.early_stopping.patience} epochs (best {self.early_stopping.best:.4f} "
                             f"at epoch {self.early_stopping.best_epoch})")
                break
        if self.early_stopping is not None and self.early_stopping.best_state is not None \
                and self.early_stopping.restore_best_weights:
            self.model.load_state_dict(self.early_stopping.best_state)
        if self.report is not None:
            self.report.update(self, val_loader, final=True)
        return self.history

    def _stop_for_time(self, loader):
        """The time budget ran out (the checkpoint of where training stopped is already written)."""
        self.stopped_by_time = True
        if self.verbose:
            where = f"; checkpoint {self.last_checkpoint}" if self.last_checkpoint is not None else ""
            self.log(f"time budget reached after {self.global_step} steps, {self.epoch} complete epochs{where}")

    def _forward_loss(self, x, y):
        out = self.model(x)
        if self.output_transform is not None:
            out = self.output_transform(out)
        return out, self.loss_fn(out, y)

    def _windows(self, x, y):
        """One batch as the steps it trains: itself, or its TBPTT windows (x, y or None, is_last)."""
        if self.tbptt is None:
            return [(x, y, True)]
        return self.tbptt.windows(x, y)

    def _train_epoch(self, loader, epochs, deadline=None):
        """One epoch (or the rest of one, after a mid-epoch checkpoint). Returns the epoch's
        record, or None when ``deadline`` passed first (a checkpoint then holds the position)."""
        self.model.train()
        threads.adapt(min_interval=1.0)     # BLAS threads for the cores other programs leave free now
        if hasattr(getattr(loader, "sampler", None), "set_epoch"):
            loader.sampler.set_epoch(self.epoch)     # DistributedSampler: this epoch's order, the same on every rank
        resumed, self._position = self._position, None
        if resumed is None:
            # what replays this epoch's order after a mid-epoch checkpoint: the generators now
            self._epoch_start = {"rng": backend.rng().bit_generator.state, "loader": checkpoint.loader_state(loader)}
            totals = {"loss": 0.0, "seen": 0, "correct": 0, "counted": 0, "norms": []}
            first_batch = 0
        else:
            self._epoch_start = resumed["epoch_start"]
            backend.rng().bit_generator.state = self._epoch_start["rng"]
            checkpoint.restore_loader(loader, self._epoch_start["loader"])
            totals = resumed["totals"]
            first_batch = self._resumed_batch(resumed, loader)
        bar = None
        if self.progress:
            from tqdm.auto import tqdm
            total = "" if epochs is None else f"/{epochs}"
            bar = tqdm(total=len(loader), initial=first_batch, desc=f"epoch {self.epoch + 1}{total}", leave=False,
                       unit="batch" if self.tbptt is None else "window")
        for index, (x, y) in enumerate(loader):
            if index < first_batch:
                continue                    # trained before the checkpoint (drawn again only for the order)
            state, first_window = None, 0
            if resumed is not None:         # the order is drawn: continue with the checkpoint's generators
                backend.rng().bit_generator.state = resumed["rng"]
                checkpoint.restore_loader(loader, resumed["loader"])
                state, first_window = resumed["state"], int(resumed["window"])
                resumed = None
            if bar is not None and self.tbptt is not None and index == first_batch:
                bar.total = len(loader) * self.tbptt.num_windows(x)
                bar.n = first_batch * self.tbptt.num_windows(x) + first_window
            for window, (xw, yw, last) in enumerate(self._windows(x, y)):
                if window < first_window:
                    continue
                state = self._train_step(xw, yw, state, totals, index)
                if bar is not None and (self.tbptt is not None or last):
                    bar.update(1)
                    if totals["seen"]:
                        bar.set_postfix(loss=f"{totals['loss'] / totals['seen']:.4f}")
                now = time.perf_counter()
                out_of_time = deadline is not None and now >= deadline
                due = self.checkpoint_dir is not None and (
                    (self.checkpoint_every_steps and self.global_step % self.checkpoint_every_steps == 0)
                    or (self.checkpoint_every_seconds and now - self._last_save >= self.checkpoint_every_seconds))
                if (due or out_of_time) and not (last and index == len(loader) - 1):
                    position = {"batch": index + 1 if last else index, "window": 0 if last else window + 1,
                                "state": None if last else state, "totals": totals,
                                "epoch_start": self._epoch_start, "batches": _batches(loader)}
                    if self.checkpoint_dir is not None:
                        self.save_checkpoint(self.checkpoint_dir / "last.safetensors", loader, position)
                    if out_of_time:
                        if bar is not None:
                            bar.close()
                        return None
        if bar is not None:
            bar.close()
        if self._parallel is not None:              # the whole data's loss and accuracy, on every rank
            totals = dict(totals)
            totals["loss"], totals["seen"], totals["correct"], totals["counted"] = self._parallel.sum_across_ranks(
                totals["loss"], totals["seen"], totals["correct"], totals["counted"])
        if totals["seen"] == 0:
            raise ValueError("Trainer.fit: the training data yielded no batches this epoch")
        record = {"loss": totals["loss"] / totals["seen"]}
        if "accuracy" in self.metrics:
            record["accuracy"] = totals["correct"] / max(totals["counted"], 1)
        record.update(self._layer_grads.epoch_record())
        norms = totals["norms"]
        if norms:
            record["grad_norm"] = sum(norms) / len(norms)
            record["grad_norm_max"] = max(norms)
        return record

    def _resumed_batch(self, resumed, loader) -> int:
        """The batch a mid-epoch checkpoint continues at. Where this run's epoch has another number
        of batches (another batch size or number of ranks), the same share of the epoch, rounded
        down (a few samples may be seen twice, none skipped), from the start of that batch (a
        recurrent state carried between windows is for the old batch's rows, so it is dropped)."""
        batch, saved, now = int(resumed["batch"]), resumed.get("batches"), _batches(loader)
        if saved is None or now is None or int(saved) == now:
            return batch
        moved = batch * now // int(saved)
        resumed["state"], resumed["window"] = None, 0
        self.log(f"note: the checkpoint stopped at batch {batch} of {int(saved)} in epoch {self.epoch + 1}; this "
                 f"run's epoch has {now} batches (another batch size or number of ranks), so it continues at "
                 f"batch {moved}, the same share of the epoch rounded down")
        return moved

    def _train_step(self, x, y, state, totals, batch_index):
        """One optimizer step on (x, y); returns the recurrent state to carry (TBPTT) or None."""
        if self.tbptt is None:
            out, loss = self._forward_loss(x, y)
        elif y is None:                     # many-to-one: an earlier window only carries the state
            with grad_mode.no_grad():
                _, state = self.model(x, state)
            return detach_state(state)
        else:
            out, state = self.model(x, state)
            if self.output_transform is not None:
                out = self.output_transform(out)
            loss = self.loss_fn(out, y)
        value = loss.item()
        if not math.isfinite(value):
            raise TrainingError(f"loss is {value} at epoch {self.epoch + 1}, step {batch_index + 1} (global step "
                                f"{self.global_step + 1}): training stopped. {self._nonfinite_advice()}")
        self.history.setdefault("step_loss", []).append(value)
        self.optimizer.zero_grad()
        loss.backward()
        self._layer_grads.add(self.model)
        if self.clip_grad_norm is not None:
            norm = float(clip_grad_norm_(self.model.parameters(), self.clip_grad_norm))
            if not math.isfinite(norm):
                raise TrainingError(f"gradient norm is {norm} at epoch {self.epoch + 1}, step {batch_index + 1}: "
                                    f"training stopped before the update could corrupt the weights")
            totals["norms"].append(norm)
        if self.clip_grad_value is not None:
            clip_grad_value_(self.model.parameters(), self.clip_grad_value)
        self.optimizer.step()
        self.global_step += 1
        n = y.numel()
        totals["loss"] += value * n
        totals["seen"] += n
        if "accuracy" in self.metrics:
            c, k = accuracy_counts(out._data, y._data, getattr(self.loss_fn, "ignore_index", -100))
            totals["correct"] += c
            totals["counted"] += k
        return None if state is None else detach_state(state)   # truncate: the next window's gradient stops here

    def _nonfinite_advice(self) -> str:
        """What to do about a NaN/inf loss, fitted to its likely cause."""
        for name, p in self.model.named_parameters():
            if not backend.xp.isfinite(p._data).all():
                return (f"The weights already hold NaN or inf ('{name}'): they were loaded or set that way, or "
                        f"an earlier update diverged. Start from finite weights (a fresh run).")
        lr = self.optimizer.param_groups[0]["lr"]
        if lr == 0:
            return ("The learning rate is 0, so no update caused it: check the inputs and targets for NaN or "
                    "inf, and the loss function's domain (e.g. BCELoss needs probabilities in [0, 1]).")
        return f"Lower the learning rate (now {lr:g}), clip gradients, or check the inputs."

    def evaluate(self, data, batch_size: int = 256, max_time=None) -> dict:
        """Mean loss (and accuracy) over ``data`` in eval mode, without recording a graph.

        With ``tbptt``, each batch runs window by window with the state carried, as in training.
        ``max_time``: stop after this many seconds (at least one batch or window is evaluated);
        the result then has ``complete`` False. ``targets`` counts the target values evaluated.

        The model is put back in the mode it was in, also when evaluation is cut short. Ctrl-C
        after this Trainer has written a checkpoint (the evaluation that follows ``fit``)
        raises ``TrainingInterrupted`` naming it, as during training.
        """
        deadline = None if max_time is None else time.perf_counter() + max_time
        data = _as_dataset(data)
        sharded = self._parallel is not None and self._parallel.can_shard(data)
        if sharded:
            data = self._parallel.shard(data)       # each rank a disjoint share; the sums are combined below
        loader = data if isinstance(data, DataLoader) else DataLoader(data, batch_size)
        _check_batches(loader, "Trainer.evaluate: the data")
        was_training = self.model.training
        self.model.eval()
        bar = None
        if self.progress:
            from tqdm.auto import tqdm
            bar = tqdm(total=len(loader), desc="evaluating", leave=False,
                       unit="batch" if self.tbptt is None else "window")
        try:
            total, seen, correct, counted, cut = self._evaluate_batches(loader, deadline, bar)
        except KeyboardInterrupt:
            if self.last_checkpoint is None:
                raise
            raise TrainingInterrupted(self.last_checkpoint, self._checkpoint_epoch, self._checkpoint_step) from None
        finally:
            if bar is not None:
                bar.close()
            self.model.train(was_training)
        if sharded:
            total, seen, correct, counted = self._parallel.sum_across_ranks(total, seen, correct, counted)
        if seen == 0:
            raise ValueError("Trainer.evaluate: the data yielded no batches")
        result = {"loss": total / seen}
        if "accuracy" in self.metrics:
            result["accuracy"] = correct / max(counted, 1)
        if max_time is not None:
            result.update(targets=seen, complete=not cut)
        return result

    def _evaluate_batches(self, loader, deadline, bar):
        """The sums ``evaluate`` reports: (loss * targets, targets, correct, counted, cut short)."""
        total, seen, correct, counted = 0.0, 0, 0, 0
        cut = False
        with grad_mode.no_grad():
            for index, (x, y) in enumerate(loader):
                state = None
                if bar is not None and self.tbptt is not None and index == 0:
                    bar.total = len(loader) * self.tbptt.num_windows(x)
                for xw, yw, last in self._windows(x, y):
                    if self.tbptt is None:
                        out, loss = self._forward_loss(xw, yw)
                    else:
                        out, state = self.model(xw, state)
                        if yw is None:
                            continue
                        if self.output_transform is not None:
                            out = self.output_transform(out)
                        loss = self.loss_fn(out, yw)
                    n = yw.numel()
                    total += loss.item() * n
                    seen += n
                    if "accuracy" in self.metrics:
                        c, k = accuracy_counts(out._data, yw._data, getattr(self.loss_fn, "ignore_index", -100))
                        correct, counted = correct + c, counted + k
                    if bar is not None and (self.tbptt is not None or last):
                        bar.update(1)
                    if deadline is not None and time.perf_counter() >= deadline and not (
                            last and index == len(loader) - 1):
                        cut = True
                        break
                if cut:
                    break
        return total, seen, correct, counted, cut

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
        if improved and self.checkpoint_dir is not None and (self._parallel is None or self._parallel.main):
            save({"model": self.model.state_dict(), "epoch": self.epoch, es.monitor: record[es.monitor]},
                 self.checkpoint_dir / "best.safetensors")
        return stop

    def _summary_line(self, record, epochs) -> str:
        parts = [f"epoch {self.epoch}" + ("" if epochs is None else f"/{epochs}")]   # None: until max_time
        for key in ("loss", "accuracy", "val_loss", "val_accuracy", "grad_norm"):
            if key in record:
                parts.append(f"{key} {record[key]:.4f}")
        parts.append(f"lr {record['lr']:.3g}")
        parts.append(f"{record['time']:.1f}s")
        return "  ".join(parts)

    # --------------------------------------------------------- checkpoints
    def save_checkpoint(self, path, loader=None, position=None) -> None:
        """Everything needed to continue exactly: weights, optimizer, scheduler, RNGs, history
        (and, for a mid-epoch checkpoint, ``position``: where in the epoch it stopped); what
        the file holds is ``glassnet/training/checkpoint.py``'s ``trainer_state``. In a
        process group only rank 0 writes (every rank holds the same weights)."""
        if self._parallel is not None and not self._parallel.main:
            return
        save(checkpoint.trainer_state(self, loader, position), path)
        self.last_checkpoint, self._checkpoint_epoch, self._checkpoint_step = path, self.epoch, self.global_step
        self._last_save = time.perf_counter()

    def load_checkpoint(self, path, loader=None) -> None:
        """Restore what :meth:`save_checkpoint` wrote; refuse weights that are NaN or inf.

        Where this Trainer's optimizer was built with other learning rates than the run in the
        checkpoint, the new ones apply from here on (the schedule continues from them) and
        the log says so.
        """
        checkpoint.restore(self, load(path), path, loader)
        self.last_checkpoint, self._checkpoint_epoch, self._checkpoint_step = path, self.epoch, self.global_step
