"""``Optimizer``: parameter groups, per-parameter state, and their state_dict (torch's layout)."""
from __future__ import annotations

import copy

from ..backend import xp
from ..nn.module import zero_grads
from ..tensor import Tensor


class Optimizer:
    """Base class: holds ``param_groups`` (dicts with 'params' and hyper-parameters) and
    ``state`` (per-parameter buffers such as momentum), and applies ``_update`` in ``step``.

    Parameters whose ``.grad`` is None (frozen, or unused this step) are skipped.
    All updates run in place on the parameters' arrays, outside the graph; ``_update`` gets the
    gradient as stored (a ``maximize`` group's sign is the update's to apply).

    ``foreach`` and ``fused`` (torch's choice among its implementations) are accepted and kept
    in the groups; glassnet computes the same update whatever their value: one pass per
    parameter (``kernels/optim.py``).
    """

    def __init__(self, params, defaults: dict):
        self.defaults = defaults
        self.state = {}
        self._scratch = {}   # (shape, dtype, slot) -> reusable temporary; never saved
        self.param_groups = []
        params = list(params)
        if not params:
            raise ValueError(f"{type(self).__name__} got an empty parameter list")
        groups = params if isinstance(params[0], dict) else [{"params": params}]
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, group: dict) -> None:
        group = dict(group)
        params = group["params"]
        group["params"] = [params] if isinstance(params, Tensor) else list(params)
        for p in group["params"]:
            if not isinstance(p, Tensor) or not p.is_leaf:
                raise TypeError(f"{type(self).__name__} can only optimize leaf Tensors, got {type(p).__name__}")
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in group["params"]):
            raise ValueError("some parameters appear in more than one parameter group")
        for key, value in self.defaults.items():
            group.setdefault(key, value)
        self.param_groups.append(group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        zero_grads((p for group in self.param_groups for p in group["params"]), set_to_none)

    def step(self, closure=None):
        """Update every parameter that has a gradient; ``closure`` re-evaluates the loss if given."""
        loss = None
        if closure is not None:
            from ..autograd import enable_grad
            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state.get(id(p))
                if state is None:
                    state = self.state[id(p)] = {}
                self._update(p._data, p.grad._data, state, group)
        return loss

    def _update(self, p, g, state: dict, group: dict) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def _tmp(self, like, slot: int = 0):
        """A scratch array shaped like ``like``, reused across parameters and steps.

        Updates such as ``p -= lr * v`` would otherwise allocate a parameter-sized temporary
        per parameter per step; for large arrays NumPy gets those from the OS each time.
        """
        key = (like.shape, like.dtype, slot)
        buf = self._scratch.get(key)
        if buf is None:
            buf = self._scratch[key] = xp.empty_like(like)
        return buf

    # ------------------------------------------------------------ state dict
    def state_dict(self) -> dict:
        """``{'state': {index: {name: Tensor}}, 'param_groups': [{..., 'params': [index, ...]}]}``
        with parameters numbered in group order, as torch does."""
        index, groups = 0, []
        numbering = {}
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            packed["params"] = []
            for p in group["params"]:
                numbering[id(p)] = index
                packed["params"].append(index)
                index += 1
            groups.append(packed)
        state = {}
        for pid, s in self.state.items():
            if pid in numbering:
                state[numbering[pid]] = {k: (Tensor._wrap(v.copy()) if isinstance(v, xp.ndarray) else v)
                                         for k, v in s.items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups):
            raise ValueError(f"loaded state dict has {len(groups)} parameter groups, the optimizer has "
                             f"{len(self.param_groups)}")
        for saved, own in zip(groups, self.param_groups):
            if len(saved["params"]) != len(own["params"]):
                raise ValueError(f"loaded state dict has a group with {len(saved['params'])} parameters where "
                                 f"the optimizer has {len(own['params'])}")
        by_index = {}
        for saved, own in zip(groups, self.param_groups):
            for i, p in zip(saved["params"], own["params"]):
                by_index[int(i)] = p
        new_state = {}
        for i, s in state_dict["state"].items():
            p = by_index[int(i)]
            new_state[id(p)] = {k: self._restore(v, p) for k, v in s.items()}
        for saved, own in zip(groups, self.param_groups):
            for k, v in saved.items():
                if k != "params":
                    own[k] = copy.deepcopy(v)
        self.state = new_state

    @staticmethod
    def _restore(value, p):
        """Saved buffers come back as arrays in the parameter's dtype; counters stay numbers."""
        if isinstance(value, Tensor):
            value = value._data
        if isinstance(value, xp.ndarray):
            if value.ndim == 0:
                return value.item()
            return value.astype(p._data.dtype, copy=True)
        return value

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for k in sorted(group):
                if k != "params":
                    lines.append(f"    {k}: {group[k]}")
        return "\n".join(lines) + "\n)"
