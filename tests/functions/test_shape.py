"""Shape, indexing, joining and padding: gradchecks, values against NumPy, pad/one_hot against torch."""
import numpy as np
import pytest

import glassnet as gn
import glassnet.nn.functional as F
from gen_core import FLATTEN_CASES, PAD_CASES

# (name, glassnet op, numpy reference): each applied to a (2, 3, 4) input
SHAPE_OPS = [
    ("reshape", lambda t: t.reshape(4, 6), lambda a: a.reshape(4, 6)),
    ("reshape_tuple_infer", lambda t: t.reshape((3, -1)), lambda a: a.reshape(3, -1)),
    ("view", lambda t: t.view(-1), lambda a: a.reshape(-1)),
    ("permute", lambda t: t.permute(2, 0, 1), lambda a: a.transpose(2, 0, 1)),
    ("permute_negative", lambda t: t.permute((-1, -3, -2)), lambda a: a.transpose(2, 0, 1)),
    ("transpose", lambda t: t.transpose(0, 2), lambda a: a.swapaxes(0, 2)),
    ("T", lambda t: t.T, lambda a: a.T),
    ("flatten", lambda t: t.flatten(), lambda a: a.reshape(-1)),
    ("flatten_from_1", lambda t: t.flatten(1), lambda a: a.reshape(2, 12)),
    ("flatten_0_to_1", lambda t: t.flatten(0, 1), lambda a: a.reshape(6, 4)),
    ("unsqueeze", lambda t: t.unsqueeze(1), lambda a: a[:, None]),
    ("unsqueeze_last", lambda t: t.unsqueeze(-1), lambda a: a[..., None]),
    ("squeeze", lambda t: t.reshape(2, 1, 3, 1, 4).squeeze(), lambda a: a),
    ("squeeze_dim", lambda t: t.reshape(2, 1, 3, 1, 4).squeeze(1), lambda a: a.reshape(2, 3, 1, 4)),
    ("squeeze_non_unit_dim_is_noop", lambda t: t.squeeze(0), lambda a: a),
    ("expand", lambda t: t[:, :1].expand(2, 5, 4), lambda a: np.broadcast_to(a[:, :1], (2, 5, 4))),
    ("expand_new_axis", lambda t: t.expand(3, -1, -1, -1), lambda a: np.broadcast_to(a, (3, 2, 3, 4))),
    ("repeat", lambda t: t.repeat(2, 1, 3), lambda a: np.tile(a, (2, 1, 3))),
    ("repeat_more_dims", lambda t: t.repeat(2, 1, 1, 2), lambda a: np.tile(a, (2, 1, 1, 2))),
    ("basic_index", lambda t: t[1, :, 1:3], lambda a: a[1, :, 1:3]),
    ("step_and_negative_index", lambda t: t[:, ::-2, -1], lambda a: a[:, ::-2, -1]),
    ("none_and_ellipsis", lambda t: t[None, ..., 0], lambda a: a[None, ..., 0]),
    ("repeated_integer_index", lambda t: t[[0, 1, 0, 0]], lambda a: a[[0, 1, 0, 0]]),
    ("integer_arrays", lambda t: t[[0, 1, 1], :, [3, 3, 0]], lambda a: a[[0, 1, 1], :, [3, 3, 0]]),
    ("tensor_index", lambda t: t[:, gn.tensor([2, 2, 0])], lambda a: a[:, [2, 2, 0]]),
    ("boolean_mask", lambda t: t[t > 0], lambda a: a[a > 0]),
    ("boolean_rows", lambda t: t[np.array([True, False])], lambda a: a[np.array([True, False])]),
    ("split", lambda t: t.split(2, dim=2)[1], lambda a: a[:, :, 2:4]),
    ("chunk", lambda t: t.chunk(3, dim=1)[2], lambda a: a[:, 2:3]),
]


@pytest.mark.parametrize("name, op, ref", SHAPE_OPS, ids=[s[0] for s in SHAPE_OPS])
def test_shape_op_gradcheck_and_values(name, op, ref, rng):
    x = rng.tensor(2, 3, 4)
    np.testing.assert_array_equal(op(x).numpy(), ref(x.numpy()))
    assert gn.gradcheck(op, (x,))


def test_repeated_integer_index_accumulates_gradient():
    x = gn.tensor([1.0, 2.0, 3.0], dtype=gn.float64, requires_grad=True)
    x[[0, 2, 0, 0]].sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 0.0, 1.0])


def test_index_of_a_transposed_view_gradchecks_and_mirrors_its_layout(rng):
    """The gradient of x[idx] is laid out like x (here a transposed view), values unchanged."""
    a = rng.tensor(3, 4, 5)
    assert gn.gradcheck(lambda a: a.transpose(0, 2)[:, -1], (a,))
    x = a.detach().transpose(0, 2).requires_grad_()
    x[:, 1:3].sum().backward()
    expected = np.zeros((5, 4, 3))
    expected[:, 1:3] = 1
    np.testing.assert_array_equal(x.grad.numpy(), expected)


def test_boolean_mask_gradient_lands_on_selected_entries():
    x = gn.tensor([[1.0, -2.0], [-3.0, 4.0]], dtype=gn.float64, requires_grad=True)
    (x[x > 0] * gn.tensor([10.0, 20.0], dtype=gn.float64)).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[10.0, 0.0], [0.0, 20.0]])


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_cat_and_stack_gradcheck(dim, rng):
    a, b, c = rng.tensor(2, 3), rng.tensor(2, 3), rng.tensor(2, 3)
    arrays = [a.numpy(), b.numpy(), c.numpy()]
    np.testing.assert_array_equal(gn.cat([a, b, c], dim).numpy(), np.concatenate(arrays, dim))
    np.testing.assert_array_equal(gn.stack([a, b], dim).numpy(), np.stack([a.numpy(), b.numpy()], dim))
    assert gn.gradcheck(lambda *ts: gn.cat(ts, dim), (a, b, c))
    assert gn.gradcheck(lambda *ts: gn.stack(ts, dim), (a, b, c))


def test_cat_of_different_lengths_and_a_constant(rng):
    a, b = rng.tensor(2, 3), rng.tensor(4, 3)
    const = gn.zeros(1, 3, dtype=gn.float64)
    assert gn.cat([a, const, b]).shape == (7, 3)
    assert gn.gradcheck(lambda s, t: gn.cat([s, const, t]), (a, b))


def test_where_gradcheck_with_broadcasting(rng):
    cond = gn.tensor(np.array([[True, False, True], [False, False, True]]))
    a, b = rng.tensor(2, 3), rng.tensor(3)
    np.testing.assert_array_equal(gn.where(cond, a, b).numpy(), np.where(cond.numpy(), a.numpy(), b.numpy()))
    assert gn.gradcheck(lambda s, t: gn.where(cond, s, t), (a, b))
    assert gn.gradcheck(lambda s: gn.where(cond, s, 0.0), (a,))


def test_where_with_scalar_keeps_dtype():
    x = gn.tensor([1.0, -2.0])
    assert gn.where(x > 0, x, 0.0).dtype == gn.float32


PAD_IDS = [c[0] for c in PAD_CASES]


@pytest.mark.parametrize("name, shape, pad, mode, value", PAD_CASES, ids=PAD_IDS)
def test_pad_matches_torch(name, shape, pad, mode, value, fixtures):
    case = fixtures[name]
    x = gn.tensor(case["x"], requires_grad=True)
    y = F.pad(x, pad, mode=mode, value=value)
    y.backward(gn.tensor(case["dy"]))
    np.testing.assert_allclose(y.numpy(), case["y"], rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(x.grad.numpy(), case["dx"], rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize("name, shape, pad, mode, value", PAD_CASES, ids=PAD_IDS)
def test_pad_gradcheck(name, shape, pad, mode, value, rng):
    assert gn.gradcheck(lambda t: F.pad(t, pad, mode=mode, value=value), (rng.tensor(*shape),))


def test_pad_errors():
    with pytest.raises(ValueError, match="padding length must be even, got 3"):
        F.pad(gn.zeros(2, 3), (1, 1, 1))
    with pytest.raises(ValueError, match="mode must be .* got 'mirror'"):
        F.pad(gn.zeros(2, 3), (1, 1), mode="mirror")
    with pytest.raises(ValueError, match="3 dims to pad but input has only 2"):
        F.pad(gn.zeros(2, 3), (1, 1, 1, 1, 1, 1))


def test_one_hot_matches_torch(fixtures):
    case = fixtures["core_one_hot"]
    for got, key in [(F.one_hot(gn.tensor(case["t"])), "y"), (F.one_hot(gn.tensor(case["t"]), 7), "y7")]:
        assert got.dtype == gn.int64
        np.testing.assert_array_equal(got.numpy(), case[key])


def test_one_hot_errors():
    with pytest.raises(IndexError, match="class index 5 is out of range for num_classes=3"):
        F.one_hot(gn.tensor([0, 5]), 3)
    with pytest.raises(TypeError, match="integer tensor"):
        F.one_hot(gn.tensor([0.0, 1.0]))


@pytest.mark.parametrize("start_dim, end_dim, shape", [(1, -1, (2, 12)), (0, -1, (24,)), (1, 2, (2, 12)),
                                                       (0, 1, (6, 4))])
def test_flatten_module(start_dim, end_dim, shape, rng):
    layer = gn.nn.Flatten(start_dim, end_dim)
    x = rng.tensor(2, 3, 4)
    assert layer(x).shape == shape
    assert gn.gradcheck(layer, (x,))
    assert gn.nn.Flatten()(x).shape == (2, 12)   # default start_dim=1, as torch


def test_identity_module_passes_input_through(rng):
    x = rng.tensor(2, 3)
    layer = gn.nn.Identity(54, unused="ignored")    # torch's Identity ignores its arguments
    assert layer(x) is x and list(layer.parameters()) == []


@pytest.mark.parametrize("name, shape, start_dim, end_dim", FLATTEN_CASES, ids=[c[0] for c in FLATTEN_CASES])
def test_flatten_module_matches_torch(name, shape, start_dim, end_dim, fixtures):
    case = fixtures[name]
    x = gn.tensor(case["x"], requires_grad=True)
    y = gn.nn.Flatten(start_dim, end_dim)(x)
    y.backward(gn.tensor(case["dy"]))
    np.testing.assert_array_equal(y.numpy(), case["y"])
    np.testing.assert_array_equal(x.grad.numpy(), case["dx"])


@pytest.mark.parametrize("pad", [(-1, 2), (1, -2, -1, 1), (-2, -1)])
def test_pad_with_negative_widths_crops(pad, rng):
    x = rng.tensor(2, 4, 5)
    assert gn.gradcheck(lambda t: F.pad(t, pad, value=0.5), (x,))
    expected = x.numpy()
    for i in range(len(pad) // 2):          # the same crop-then-pad, written with NumPy directly
        axis, (lo, hi) = expected.ndim - 1 - i, pad[2 * i:2 * i + 2]
        expected = expected[(slice(None),) * axis + (slice(max(-lo, 0), expected.shape[axis] - max(-hi, 0)),)]
        widths = [(0, 0)] * expected.ndim
        widths[axis] = (max(lo, 0), max(hi, 0))
        expected = np.pad(expected, widths, constant_values=0.5)
    np.testing.assert_array_equal(F.pad(x, pad, value=0.5).numpy(), expected)


def test_pad_negative_matches_torch():
    torch = pytest.importorskip("torch")
    data = np.arange(24.0).reshape(2, 3, 4)
    got = F.pad(gn.tensor(data), (-1, 2, 1, -1)).numpy()
    want = torch.nn.functional.pad(torch.tensor(data), (-1, 2, 1, -1)).numpy()
    np.testing.assert_array_equal(got, want)


def test_pad_rejects_impossible_crops_and_cropping_in_other_modes():
    x = gn.zeros(2, 3)
    with pytest.raises(ValueError, match="below zero"):
        F.pad(x, (-2, -2))
    with pytest.raises(ValueError, match="needs mode='constant'"):
        F.pad(x.unsqueeze(0), (-1, 1), mode="reflect")


def test_reshape_of_channel_major_input_returns_gradient_in_that_layout(rng):
    """A convolution's output is stored (C, N, H, W); flattening it copies, and the gradient
    the primitive hands back (to a pooling layer, say) is in that (C, N, H, W) memory order,
    with the same values as a plain reshape; a C-ordered input gets a plain view back."""
    from glassnet.functions.shape import Reshape
    data = rng.tensor(3, 2, 4, 5).numpy()                          # (C, N, H, W) memory
    f = Reshape()
    f.forward(data.transpose(1, 0, 2, 3), (2, -1))                  # (N, C, H, W) view of it
    dy = rng.tensor(2, 60).numpy()
    grad = f.backward(dy)
    np.testing.assert_array_equal(grad, dy.reshape(2, 3, 4, 5))
    assert grad.transpose(1, 0, 2, 3).flags.c_contiguous
    g = Reshape()
    g.forward(data, (-1,))
    assert np.shares_memory(g.backward(dy.reshape(-1)), dy)


def test_shape_primitives_name_no_memory_layout():
    """How x sits in memory is kernels/layout.py's business: functions/shape.py calls its
    steps (storage_of, store_like, zeros_stored_like) and says nothing of strides or orders."""
    import pathlib
    import re
    text = (pathlib.Path(gn.__file__).parent / "functions" / "shape.py").read_text()
    code = "\n".join(line for line in text.splitlines() if not line.startswith("from "))
    found = sorted(set(re.findall(r"layout|channel.major|contiguous|strides|memory order", code, re.IGNORECASE)))
    assert not found, f"functions/shape.py mentions {found}"


@pytest.mark.parametrize("axes", [(0, 1, 2), (1, 0, 2), (2, 0, 1), (1, 2, 0)])
def test_layout_storage_steps_keep_values_and_store_in_the_remembered_order(axes, rng):
    from glassnet.kernels import layout
    base = rng.tensor(2, 3, 4).numpy()
    x = base.transpose(axes)                                      # stored in `axes` order
    storage = layout.storage_of(x)
    assert storage is None if axes == (0, 1, 2) else storage == tuple(int(a) for a in np.argsort(axes))
    a = rng.tensor(*x.shape).numpy()
    kept = layout.store_like(a, storage)
    np.testing.assert_array_equal(kept, a)
    zero = layout.zeros_stored_like(x.shape, a.dtype, storage)
    assert not zero.any() and zero.shape == x.shape
    for got in (kept, zero):                                      # memory follows x's order
        assert got.strides == x.strides or (storage is None and got.flags.c_contiguous)
