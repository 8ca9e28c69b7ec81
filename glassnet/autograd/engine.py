"""Reverse-mode differentiation over the recorded graph.

``backward(root, grad)`` orders the graph's nodes topologically (a node after every
node that consumes its outputs), then visits them in that order: each node receives
the sum of the gradients flowing into its outputs (the multivariate chain rule sums
over paths), calls its hand-written ``backward``, and passes the results on to its
inputs. Leaves that require grad accumulate into ``.grad``. Unless ``retain_graph``
is set, each node drops its saved arrays right after use, so memory falls as the
backward pass proceeds.
"""
from __future__ import annotations

from ..backend import xp
from .. import threads
from . import grad_mode


def _topological_order(root_node):
    """Nodes reachable from ``root_node``, each before the nodes it depends on."""
    order, visited = [], {id(root_node)}
    stack = [(root_node, iter(root_node.parents))]
    while stack:
        node, parents = stack[-1]
        for p in parents:
            fn = getattr(p, "grad_fn", None)
            if fn is not None and id(fn) not in visited:
                if getattr(fn, "released", False):
                    _raise_released()
                visited.add(id(fn))
                stack.append((fn, iter(fn.parents)))
                break
        else:
            stack.pop()
            order.append(node)
    order.reverse()
    return order


def _raise_released():
    raise RuntimeError(
        "Trying to backward through the graph a second time (or to use results of it after "
        "backward freed them). Pass retain_graph=True to the first backward() if you need to.")


# Hooks for data-parallel training (glassnet.nn.parallel), as torch's: a leaf's
# post-accumulate-grad hooks run once per backward, after the last gradient reaching it
# has been added to .grad; queued callbacks run once when the whole backward is over.
hooked_leaves = 0          # leaves with post-accumulate-grad hooks (0: no bookkeeping at all)
_final_callbacks: list = []
_depth = 0                 # nested backward calls (a hook may call backward); callbacks run at depth 0


def queue_callback(fn) -> None:
    """Run ``fn()`` once, when the backward pass now running has finished (torch's queue_callback)."""
    _final_callbacks.append(fn)


def _hooked_parents(order):
    """{id(leaf): [edges still to deliver, got a gradient, leaf]} for hooked leaves in the graph."""
    hooked = {}
    for node in order:
        for p in node.parents:
            if getattr(p, "_post_accumulate_grad_hooks", None) and p.grad_fn is None:
                entry = hooked.setdefault(id(p), [0, False, p])
                entry[0] += 1
    return hooked


def _count_down(node, hooked) -> None:
    """``node`` has delivered its gradients: run the hooks of leaves that now have them all."""
    for p in node.parents:
        entry = hooked.get(id(p))
        if entry is not None:
            entry[0] -= 1
            if entry[0] == 0 and entry[1]:
                for hook in list(p._post_accumulate_grad_hooks.values()):
                    hook(p)


def backward(root, grad, retain_graph: bool = False) -> None:
    """Accumulate d(root)/d(leaf), scaled by ``grad``, into every leaf's ``.grad``."""
    global _depth
    _depth += 1
    try:
        _backward(root, grad, retain_graph)
    finally:
        _depth -= 1
        if _depth == 0:
            callbacks, _final_callbacks[:] = list(_final_callbacks), []
            for fn in callbacks:
                fn()


def _backward(root, grad, retain_graph: bool) -> None:
    from ..tensor import Tensor

    threads.apply_once()     # glassnet's thread count, applied when training starts (not on import)
    node = root.grad_fn
    if node is None:  # a leaf: its gradient is the seed itself
        _accumulate_leaf(root, grad, owned=False)
        for hook in list((getattr(root, "_post_accumulate_grad_hooks", None) or {}).values()):
            hook(root)
        return
    if getattr(node, "released", False):
        _raise_released()
    pending = {id(node): _seed(node, root._output_index, grad)}
    # ids of arrays already handed to some input: an array seen twice (x + x), the seed, or a
    # view may alias memory that is not the leaf's own, so only those are copied into .grad
    delivered = {id(grad)}
    with grad_mode.set_grad_enabled(False):
        order = _topological_order(node)
        hooked = _hooked_parents(order) if hooked_leaves else None
        for node in order:
            out_grads = pending.pop(id(node), None)
            if out_grads is None:  # no gradient reached this node (e.g. only an index output used)
                if hooked:
                    _count_down(node, hooked)
                continue
            if node.output_meta is not None:
                out_grads = [xp.zeros(s, d) if g is None else g
                             for g, (s, d) in zip(out_grads, node.output_meta)]
            retained = getattr(node, "retained", None)
            if retained:
                for index, ref in retained.items():
                    t = ref()
                    if t is not None:
                        t.grad = Tensor._wrap(out_grads[index].copy())
            in_grads = node.backward(*out_grads)
            if type(in_grads) is not tuple:
                in_grads = (in_grads,)
            for parent, g in zip(node.parents, in_grads):
                if g is None or not isinstance(parent, Tensor) or not parent.requires_grad:
                    continue
                if g.shape != parent._data.shape:
                    raise RuntimeError(
                        f"{node.name}.backward returned a gradient of shape {g.shape} for an "
                        f"input of shape {parent._data.shape}")
                fn = parent.grad_fn
                owned = g.base is None and id(g) not in delivered
                delivered.add(id(g))
                if fn is None:
                    _accumulate_leaf(parent, g, owned)
                    if hooked and id(parent) in hooked:
                        hooked[id(parent)][1] = True
                    continue
                slots = pending.get(id(fn))
                if slots is None:
                    slots = pending[id(fn)] = [None] * (1 if fn.output_meta is None else len(fn.output_meta))
                i = parent._output_index
                # never add in place: g may alias an array another node also received
                slots[i] = g if slots[i] is None else slots[i] + g
            if hooked:
                _count_down(node, hooked)
            if not retain_graph:
                node.release()


def _seed(node, index, grad):
    slots = [None] * (1 if node.output_meta is None else len(node.output_meta))
    slots[index] = grad
    return slots


def _accumulate_leaf(leaf, g, owned: bool) -> None:
    from ..tensor import Tensor

    if g.dtype != leaf._data.dtype:
        g, owned = g.astype(leaf._data.dtype), True
    if leaf.grad is None:
        # .grad must own its memory: optimizers and clip_grad_norm_ scale it in place.
        # A fresh array (a GEMM's dW) is kept as is; a shared one or a view is copied.
        leaf.grad = Tensor._wrap(g if owned else g.copy())
    else:
        leaf.grad._data += g
