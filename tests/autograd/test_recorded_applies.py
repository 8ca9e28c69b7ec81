"""autograd.function.RecordedApplies: the one recorder of Function.apply calls that gn.compile
and the ONNX tracer are built on."""
import numpy as np
import pytest

import glassnet as gn
from glassnet.autograd.function import Function, RecordedApplies


class _TimesTwoThroughAnother(Function):
    """A Function whose forward applies another (a multiplication) on its own."""

    def forward(self, x):
        return (gn.tensor(x) * 2).numpy()

    def backward(self, dy):
        return 2 * dy


def test_outermost_applies_are_recorded_in_order_with_their_outputs():
    seen = []
    x = gn.tensor([1.0, 2.0])
    with RecordedApplies(lambda cls, inputs, options, output: seen.append((cls.__name__, output))):
        y = (x + 1) * 3
        z = _TimesTwoThroughAnother.apply(y)
    assert [name for name, _ in seen] == ["Add", "Mul", "_TimesTwoThroughAnother"]
    assert seen[1][1] is y and seen[2][1] is z                       # the outputs themselves
    np.testing.assert_array_equal(z.numpy(), [12.0, 18.0])          # the nested multiply ran, unrecorded


def test_apply_is_restored_after_the_block_even_on_an_error():
    before = Function.__dict__["apply"]
    with pytest.raises(ValueError, match="inside"):
        with RecordedApplies(lambda *call: None):
            assert Function.__dict__["apply"] is not before
            raise ValueError("inside")
    assert Function.__dict__["apply"] is before
    calls = []
    with RecordedApplies(lambda *call: calls.append(call)):
        pass
    gn.tensor([1.0]) + 1                                             # after the block: not recorded
    assert calls == []
