"""Higher-level differentiation, torch-shaped: ``jacobian(f, x)`` and ``vjp(f, x, v)``.

    J = gn.autograd.functional.jacobian(F.softmax_over_last, a)      # J[i, j] = dp_i / da_j
    p, g = gn.autograd.functional.vjp(f, x, v)                         # g = v^T J  (one backward pass)

Both are reverse mode, built on ``Tensor.backward``: the vector-Jacobian product is one backward
pass seeded with v, and the Jacobian is one such pass per output element, seeded with the unit
vector e_i (row i of J is e_i^T J). The inputs are detached copies, so the caller's tensors and the
``.grad`` of any parameter ``f`` uses are left as they were.
"""
from __future__ import annotations

from ..backend import xp
from ..tensor import Tensor
from . import engine
from .grad_mode import enable_grad


def _as_tuple(name, value, what):
    is_tuple = isinstance(value, (tuple, list))
    items = tuple(value) if is_tuple else (value,)
    for i, t in enumerate(items):
        if not isinstance(t, Tensor):
            raise TypeError(f"{name}: {what} must be Tensors or a tuple of Tensors, "
                            f"got {type(t).__name__} at position {i}")
    return is_tuple, items


def _check_create_graph(name, create_graph):
    if create_graph:
        raise NotImplementedError(f"{name}: create_graph=True needs a backward pass that records a graph, "
                                  f"which glassnet's hand-written backwards do not; use create_graph=False")


def _fresh_inputs(inputs):
    """Detached copies that require grad: the leaves we differentiate with respect to."""
    return tuple(Tensor._wrap(t._data.copy()).requires_grad_(True) for t in inputs)


def _other_leaves(outputs, inputs):
    """Leaves other than ``inputs`` that backward would write into (a module's parameters)."""
    ours = {id(t) for t in inputs}
    leaves = {}
    for out in outputs:
        if out.grad_fn is None:
            continue
        for node in engine._topological_order(out.grad_fn):
            for p in node.parents:
                if isinstance(p, Tensor) and p.grad_fn is None and p.requires_grad and id(p) not in ours:
                    leaves[id(p)] = p
    return list(leaves.values())


def _backward_into(outputs_and_seeds, inputs, strict, name):
    """Run backward for each (output, seed) and return d/d(input) for every input (zeros if unreached)."""
    grads = []
    for out, seed in outputs_and_seeds:
        if not out.requires_grad:
            if strict:
                raise RuntimeError(f"{name}: an output of the function does not depend on the inputs "
                                   f"(strict=True); with strict=False its gradient is zero")
            continue
        out.backward(Tensor._wrap(seed), retain_graph=True)
    for t in inputs:
        g = t.grad
        if g is None:
            if strict:
                raise RuntimeError(f"{name}: the output does not depend on an input of shape "
                                   f"{tuple(t.shape)} (strict=True); with strict=False its gradient is zero")
            g = Tensor._wrap(xp.zeros_like(t._data))
        grads.append(g)
        t.grad = None
    return grads


def _run(func, inputs, name):
    with enable_grad():
        out = func(*inputs)
    is_tuple, outputs = _as_tuple(name, out, "the function's outputs")
    return is_tuple, outputs


def vjp(func, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """The vector-Jacobian product v^T J of ``func`` at ``inputs``, as torch.autograd.functional.vjp.

    Args:
        func: takes the input Tensors as positional arguments, returns a Tensor or a tuple of Tensors.
        inputs: a Tensor or a tuple of Tensors.
        v: same shape(s) as ``func``'s output(s); may be omitted when the output has one element.
        create_graph: must be False (glassnet records no graph of the backward pass).
        strict: raise when an output does not depend on an input, instead of returning zeros.

    Returns:
        (func_output, vjp): the output(s), detached, and v^T J with the structure of ``inputs``.
    """
    _check_create_graph("vjp", create_graph)
    inputs_tuple, inputs = _as_tuple("vjp", inputs, "inputs")
    leaves = _fresh_inputs(inputs)
    out_tuple, outputs = _run(func, leaves, "vjp")
    if v is None:
        if len(outputs) != 1 or outputs[0].numel() != 1:
            raise RuntimeError("vjp: v can be omitted only when the function returns a single one-element "
                               f"Tensor, got output shapes {[tuple(o.shape) for o in outputs]}")
        vs = (Tensor._wrap(xp.ones_like(outputs[0]._data)),)
    else:
        _, vs = _as_tuple("vjp", v, "v")
        if len(vs) != len(outputs):
            raise RuntimeError(f"vjp: v has {len(vs)} entries, the function returned {len(outputs)} outputs")
        for i, (vi, o) in enumerate(zip(vs, outputs)):
            if tuple(vi.shape) != tuple(o.shape):
                raise RuntimeError(f"vjp: v[{i}] has shape {tuple(vi.shape)}, expected the output's "
                                   f"{tuple(o.shape)}")
    saved = [(p, p.grad) for p in _other_leaves(outputs, leaves)]
    try:
        grads = _backward_into([(o, vi._data.astype(o._data.dtype)) for o, vi in zip(outputs, vs)],
                               leaves, strict, "vjp")
    finally:
        for p, g in saved:
            p.grad = g
    detached = tuple(o.detach() for o in outputs)
    return (detached if out_tuple else detached[0]), (tuple(grads) if inputs_tuple else grads[0])


def jacobian(func, inputs, create_graph: bool = False, strict: bool = False, vectorize: bool = False,
             strategy: str = "reverse-mode"):
    """The Jacobian of ``func`` at ``inputs``, as torch.autograd.functional.jacobian.

    For one input x of shape X and one output y of shape Y the result has shape Y + X, with
    J[i..., j...] = dy[i...] / dx[j...]. With a tuple of inputs the result is a tuple over inputs;
    with a tuple of outputs, a tuple over outputs (of tuples over inputs when both are tuples).
    ``vectorize`` is accepted and ignored (each row is its own backward pass); ``strategy`` must be
    "reverse-mode".
    """
    _check_create_graph("jacobian", create_graph)
    if strategy != "reverse-mode":
        raise NotImplementedError(f"jacobian: only strategy='reverse-mode' is implemented, got {strategy!r}")
    inputs_tuple, inputs = _as_tuple("jacobian", inputs, "inputs")
    leaves = _fresh_inputs(inputs)
    out_tuple, outputs = _run(func, leaves, "jacobian")
    saved = [(p, p.grad) for p in _other_leaves(outputs, leaves)]
    per_output = []
    try:
        for o in outputs:
            rows = [[] for _ in leaves]
            n = o.numel()
            for i in range(n):
                seed = xp.zeros(o._data.size, o._data.dtype)
                seed[i] = 1
                grads = _backward_into([(o, seed.reshape(o._data.shape))], leaves, strict, "jacobian")
                for k, g in enumerate(grads):
                    rows[k].append(g._data)
            blocks = []
            for leaf, r in zip(leaves, rows):
                stacked = xp.stack(r) if r else xp.zeros((0,) + leaf._data.shape, leaf._data.dtype)
                blocks.append(Tensor._wrap(stacked.reshape(tuple(o.shape) + tuple(leaf.shape))))
            per_output.append(tuple(blocks) if inputs_tuple else blocks[0])
    finally:
        for p, g in saved:
            p.grad = g
    return tuple(per_output) if out_tuple else per_output[0]
