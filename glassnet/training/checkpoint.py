"""What a ``Trainer`` checkpoint holds, and how a ``Trainer`` continues from one.

One safetensors file (``gn.save``: written atomically, never executed on load) with

* ``model``, ``optimizer``, ``scheduler``, ``early_stopping``: their ``state_dict``s;
* ``epoch`` (completed epochs), ``global_step`` (optimizer steps), ``history`` (per epoch);
* ``rng``: glassnet's generator (dropout masks, shuffling through it), and ``loader``: the
  DataLoader's own state, so the next batches are the ones an uninterrupted run would draw;
* ``base_lrs``: the learning rates the run was built with (a resumed run built with others
  continues from the new ones, ``apply_new_learning_rates``);
* ``position`` for a checkpoint written inside an epoch: the batch and TBPTT window it
  stopped at, the recurrent state, the epoch's running totals, the generators as they were
  when the epoch began (to draw its order again) and how many batches the epoch had;
* ``metadata``: whatever the caller asked to keep (``Trainer(checkpoint_metadata=...)``).
"""
from __future__ import annotations

import math

from .. import backend
from ..io import CheckpointError
from ..tensor import Tensor


def trainer_state(trainer, loader=None, position=None) -> dict:
    """The dict ``Trainer.save_checkpoint`` writes."""
    state = {
        "model": trainer.model.state_dict(),
        "optimizer": trainer.optimizer.state_dict(),
        "epoch": trainer.epoch,
        "global_step": trainer.global_step,
        "history": trainer.history,
        "rng": backend.rng().bit_generator.state,
        "base_lrs": trainer._base_lrs,
    }
    if loader is not None and hasattr(loader, "state_dict"):
        state["loader"] = loader.state_dict()
    if position is not None:
        state["position"] = position
    if trainer.checkpoint_metadata is not None:
        state["metadata"] = trainer.checkpoint_metadata
    if trainer.scheduler is not None:
        state["scheduler"] = trainer.scheduler.state_dict()
    if trainer.early_stopping is not None:
        state["early_stopping"] = trainer.early_stopping.state_dict()
    return state


def restore(trainer, state: dict, path, loader=None) -> None:
    """Put ``trainer`` (and ``loader``) where ``state``, read from ``path``, left them."""
    check_finite_weights(state["model"], path)
    trainer.model.load_state_dict(state["model"])
    trainer.optimizer.load_state_dict(state["optimizer"])
    trainer.epoch, trainer.global_step = int(state["epoch"]), int(state["global_step"])
    trainer.history = {k: list(v) for k, v in state["history"].items()}
    backend.rng().bit_generator.state = state["rng"]
    if loader is not None and hasattr(loader, "load_state_dict"):
        if "loader" in state:
            loader.load_state_dict(state["loader"])
        elif "loader_rng" in state:                     # checkpoints written before DataLoader.state_dict
            loader.load_state_dict({"generator": state["loader_rng"]})
    if trainer.scheduler is not None and "scheduler" in state:
        trainer.scheduler.load_state_dict(state["scheduler"])
    if trainer.early_stopping is not None and "early_stopping" in state:
        trainer.early_stopping.load_state_dict(state["early_stopping"])
    position = state.get("position")
    if position is not None:        # the generators as they were at the checkpoint, to continue from
        position = dict(position, rng=state["rng"], loader=state.get("loader", {}))
    trainer._position = position
    if "base_lrs" in state:
        apply_new_learning_rates(trainer, [float(v) for v in state["base_lrs"]])


def apply_new_learning_rates(trainer, saved) -> None:
    """Resuming with an optimizer built for other learning rates: use the new ones."""
    asked = trainer._base_lrs
    if len(saved) != len(asked) or all(math.isclose(a, b, rel_tol=1e-9) for a, b in zip(asked, saved)):
        return
    groups = trainer.optimizer.param_groups
    schedule = trainer.scheduler if hasattr(trainer.scheduler, "base_lrs") else None
    for i, (group, new, old) in enumerate(zip(groups, asked, saved)):
        if "initial_lr" in group:
            group["initial_lr"] = new
        if schedule is not None:
            schedule.base_lrs[i] = new
        else:           # no closed-form schedule (or ReduceLROnPlateau): keep its reductions so far
            group["lr"] = group["lr"] * new / old if old else new
    if schedule is not None:    # where the schedule stands now, from the new base
        for group, lr in zip(groups, schedule.get_lr()):
            group["lr"] = lr
        schedule._last_lr = [group["lr"] for group in groups]
    trainer.log(f"note: learning rate {asked[0]:g} replaces the checkpoint's {saved[0]:g}; training "
                f"continues at lr {groups[0]['lr']:g}" + (" on the resumed schedule" if schedule else ""))


def loader_state(loader) -> dict:
    """A loader's shuffling state ({} for loaders that keep none, e.g. a user's own iterable)."""
    return loader.state_dict() if hasattr(loader, "state_dict") else {}


def restore_loader(loader, state: dict) -> None:
    if state and hasattr(loader, "load_state_dict"):
        loader.load_state_dict(state)


def check_finite_weights(weights: dict, path) -> None:
    """A checkpoint saved after training diverged holds NaN: say so at load, not at the first loss."""
    for name, value in weights.items():
        array = value._data if isinstance(value, Tensor) else backend.xp.asarray(value)
        if array.dtype.kind == "f" and not backend.xp.isfinite(array).all():
            counts = [f"{n} {kind}" for n, kind in ((int(backend.xp.isnan(array).sum()), "NaN"),
                                                     (int(backend.xp.isinf(array).sum()), "inf")) if n]
            raise CheckpointError(f"{path} holds non-finite values ({', '.join(counts)}) in '{name}': it was "
                                  f"saved after training diverged. Start a fresh run (or resume from an "
                                  f"earlier checkpoint) with a lower learning rate or gradient clipping")
