"""The autograd hooks data-parallel training rests on (torch's names and timing)."""
import numpy as np
import pytest

import glassnet as gn
from glassnet.autograd import engine


def test_post_accumulate_hook_runs_once_with_the_final_gradient():
    w = gn.tensor([1.0, 2.0, 3.0], requires_grad=True)
    seen = []
    w.register_post_accumulate_grad_hook(lambda p: seen.append(p.grad.numpy().copy()))
    ((w * 2).sum() + (w * w).sum() + w[1]).backward()         # three paths into w
    assert len(seen) == 1
    np.testing.assert_array_equal(seen[0], [4.0, 7.0, 8.0])   # 2 + 2w + e_1: every path is in


def test_post_accumulate_hook_sees_accumulation_across_backwards_and_can_be_removed():
    w = gn.tensor([1.0, -1.0], requires_grad=True)
    live = engine.hooked_leaves
    seen = []
    handle = w.register_post_accumulate_grad_hook(lambda p: seen.append(p.grad.numpy().copy()))
    (w * 3).sum().backward()
    (w * 3).sum().backward()
    np.testing.assert_array_equal(np.array(seen), [[3.0, 3.0], [6.0, 6.0]])
    handle.remove()
    (w * 3).sum().backward()
    assert len(seen) == 2 and engine.hooked_leaves == live
    del w
    assert engine.hooked_leaves == live


def test_hooks_of_a_tensor_that_dies_stop_counting():
    live = engine.hooked_leaves
    w = gn.tensor([1.0], requires_grad=True)
    w.register_post_accumulate_grad_hook(lambda p: None)
    assert engine.hooked_leaves == live + 1
    del w
    assert engine.hooked_leaves == live


def test_post_accumulate_hook_waits_for_every_consumer_and_skips_unused_leaves():
    """The hook of a leaf used early in the forward runs after the layers that use it late."""
    a, b = gn.tensor([2.0], requires_grad=True), gn.tensor([5.0], requires_grad=True)
    unused = gn.tensor([1.0], requires_grad=True)
    order = []
    for name, t in (("a", a), ("b", b), ("unused", unused)):
        t.register_post_accumulate_grad_hook(lambda p, name=name: order.append((name, p.grad.item())))
    h = a * 3          # a enters first and again at the end
    y = (h * b + a).sum()
    y.backward()
    assert order == [("b", 6.0), ("a", 16.0)]                  # dy/db = 3a, dy/da = 3b + 1


def test_post_accumulate_hook_on_a_leaf_root_and_refused_on_a_non_leaf():
    w = gn.tensor([1.0, 2.0], requires_grad=True)
    seen = []
    w.register_post_accumulate_grad_hook(lambda p: seen.append(p.grad.numpy().copy()))
    w.backward(gn.tensor([1.0, 1.0]))
    assert len(seen) == 1
    with pytest.raises(RuntimeError, match="non-leaf"):
        (w * 2).register_post_accumulate_grad_hook(lambda p: None)


def test_queued_callback_runs_after_every_gradient_is_in():
    w = gn.tensor([1.0, 2.0], requires_grad=True)
    calls = []

    def hook(p):
        engine.queue_callback(lambda: calls.append(("done", w.grad.numpy().tolist())))
    handle = w.register_post_accumulate_grad_hook(hook)
    (w * w).sum().backward()
    handle.remove()
    assert calls == [("done", [2.0, 4.0])]
    (w * w).sum().backward()
    assert len(calls) == 1                                     # run once, then forgotten
