"""The Tensor API: dtypes like torch, graph recording and backward rules, views, a float32 model."""
import numpy as np
import pytest

import glassnet as gn
import glassnet.nn.functional as F


# ------------------------------------------------------------------ creation dtypes
@pytest.mark.parametrize("data, dtype", [
    (1.5, gn.float32), ([1.0, 2.0], gn.float32), ([1, 2.5], gn.float32), ([[1.0], [2.0]], gn.float32),
    (3, gn.int64), ([1, 2], gn.int64), (True, gn.bool_), ([True, False], gn.bool_),
    (np.array([1.0, 2.0]), gn.float64), (np.array([1.0], np.float32), gn.float32),
    (np.array([1, 2], np.int32), gn.int32), (np.array([1, 2], np.uint8), gn.uint8),
    (np.array([1, 2], np.int64), gn.int64), (np.float64(1.5), gn.float64),
])
def test_tensor_dtypes_follow_torch(data, dtype):
    # Python floats -> float32, Python ints -> int64, NumPy data keeps its dtype
    assert gn.tensor(data).dtype == dtype


def test_dtype_argument_and_aliases():
    assert gn.tensor([1, 2], dtype=gn.float64).dtype == gn.float64
    assert gn.tensor([1.5], dtype=np.float64).dtype == gn.float64
    assert gn.tensor([1.7], dtype=gn.int64).dtype == gn.int64
    assert gn.long == gn.int64 and gn.double == gn.float64 and gn.float == gn.float32


@pytest.mark.parametrize("factory", [gn.zeros, gn.ones, gn.randn, gn.rand, gn.empty])
def test_factories_default_to_float32(factory):
    t = factory(2, 3)
    assert t.shape == (2, 3) and t.dtype == gn.float32 and not t.requires_grad
    assert factory((2, 3)).shape == (2, 3)
    assert factory(2, dtype=gn.float64).dtype == gn.float64


def test_other_factories():
    assert gn.arange(3).dtype == gn.int64 and gn.arange(0, 1, 0.25).dtype == gn.float32
    np.testing.assert_array_equal(gn.arange(1, 7, 2).numpy(), [1, 3, 5])
    assert gn.eye(3).dtype == gn.float32 and gn.full((2,), 7.0).numpy().tolist() == [7.0, 7.0]
    assert gn.zeros(2, requires_grad=True).requires_grad
    assert gn.zeros_like(gn.ones(2, dtype=gn.float64)).dtype == gn.float64


def test_tensor_copies_and_from_numpy_shares():
    a = np.zeros(3)
    t, s = gn.tensor(a), gn.from_numpy(a)
    a[0] = 5.0
    assert t.numpy()[0] == 0.0 and s.numpy()[0] == 5.0
    assert np.asarray(s) is a or np.shares_memory(np.asarray(s), a)
    with pytest.raises(TypeError, match="expected numpy.ndarray"):
        gn.from_numpy([1, 2])


def test_basic_accessors():
    t = gn.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    assert t.shape == (2, 3) and t.ndim == 2 and t.dim() == 2 and t.numel() == 6 and len(t) == 2
    assert t.size() == (2, 3) and t.size(1) == 3 and t[1, 2].item() == 6.0
    assert [row.tolist() for row in t] == [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]
    with pytest.raises(ValueError, match=r"only one-element tensors.*\(2, 3\)"):
        t.item()


def test_int_tensor_cannot_require_grad():
    with pytest.raises(RuntimeError, match="only floating-point tensors can require gradients"):
        gn.tensor([1, 2], requires_grad=True)


# ----------------------------------------------------------------- arithmetic dtypes
@pytest.mark.parametrize("op", [lambda x: x * 2.0, lambda x: 2.0 * x, lambda x: x + 1, lambda x: 1 - x,
                                lambda x: x / 3, lambda x: 3 / x, lambda x: x ** 2, lambda x: 2 ** x,
                                lambda x: x * np.float64(0.5), lambda x: np.float64(0.5) + x, lambda x: -x,
                                lambda x: x @ x, lambda x: x.mean() * 0.1])
def test_float32_with_python_and_numpy_scalars_stays_float32(op):
    x = gn.tensor([1.0, 2.0], requires_grad=True)
    y = op(x)
    assert y.dtype == gn.float32
    y.sum().backward()
    assert x.grad.dtype == gn.float32


@pytest.mark.parametrize("op, dtype", [(lambda i: i + 1, gn.int64), (lambda i: i * 2, gn.int64),
                                       (lambda i: i + 1.5, gn.float32), (lambda i: 0.5 * i, gn.float32),
                                       (lambda i: i / 2, gn.float32), (lambda i: i ** 0.5, gn.float32),
                                       (lambda i: i - 0.5, gn.float32)])
def test_int_tensor_arithmetic_dtypes_follow_torch(op, dtype):
    assert op(gn.tensor([1, 2])).dtype == dtype


def test_broadcasting_gradients_are_summed_to_each_shape():
    a = gn.ones(2, 1, 3, dtype=gn.float64, requires_grad=True)
    b = gn.ones(4, 1, dtype=gn.float64, requires_grad=True)
    (a * b).sum().backward()
    assert a.grad.shape == (2, 1, 3) and b.grad.shape == (4, 1)
    np.testing.assert_array_equal(a.grad.numpy(), np.full((2, 1, 3), 4.0))
    np.testing.assert_array_equal(b.grad.numpy(), np.full((4, 1), 6.0))


# ---------------------------------------------------------------- graph recording
def test_no_grad_records_nothing():
    x = gn.ones(2, requires_grad=True)
    with gn.no_grad():
        y = x * 2
    assert not y.requires_grad and y.grad_fn is None
    assert gn.is_grad_enabled()
    z = x * 2
    assert z.requires_grad and z.grad_fn is not None


def test_no_grad_as_decorator_and_enable_grad_inside():
    @gn.no_grad()
    def double(t):
        return t * 2

    x = gn.ones(2, requires_grad=True)
    assert not double(x).requires_grad
    with gn.no_grad():
        with gn.enable_grad():
            assert (x * 2).requires_grad
        assert not (x * 2).requires_grad
    with gn.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert gn.is_grad_enabled()


def test_no_grad_restores_state_after_an_exception():
    with pytest.raises(ZeroDivisionError):
        with gn.no_grad():
            1 / 0
    assert gn.is_grad_enabled()


def test_detach_shares_storage_and_cuts_the_graph():
    x = gn.ones(3, requires_grad=True)
    y = x * 2
    d = y.detach()
    assert not d.requires_grad and d.grad_fn is None and d.is_leaf
    assert np.shares_memory(d.numpy(), y.numpy())
    (d * x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 2.0, 2.0])   # no path through d


def test_requires_grad_():
    x = gn.ones(2)
    assert x.requires_grad_() is x and x.requires_grad
    x.requires_grad_(False)
    assert not x.requires_grad
    y = gn.ones(2, requires_grad=True) * 2
    with pytest.raises(RuntimeError, match="only for leaves"):
        y.requires_grad_(False)


def test_second_backward_needs_retain_graph():
    x = gn.tensor([1.0, 2.0], dtype=gn.float64, requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()                               # allowed: the first call kept the graph
    np.testing.assert_array_equal(x.grad.numpy(), [4.0, 8.0])   # 2x, accumulated twice
    with pytest.raises(RuntimeError, match="backward through the graph a second time.*retain_graph=True"):
        y.backward()


def test_backward_through_a_freed_subgraph_raises():
    x = gn.tensor([1.0, 2.0], requires_grad=True)
    h = x.exp()
    h.sum().backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        (h * 2).sum().backward()


def test_gradients_accumulate_across_backward_calls():
    x = gn.tensor([1.0, 2.0], dtype=gn.float64, requires_grad=True)
    (3 * x).sum().backward()
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [5.0, 7.0])


def test_retain_grad_keeps_an_intermediate_gradient():
    x = gn.tensor([1.0, 2.0], dtype=gn.float64, requires_grad=True)
    h = x * 3
    h.retain_grad()
    y = h * h
    y.retain_grad()
    other = x * 5
    y.sum().backward()
    np.testing.assert_array_equal(h.grad.numpy(), 2 * h.numpy())
    np.testing.assert_array_equal(y.grad.numpy(), [1.0, 1.0])
    assert other.grad is None                  # not retained


def test_backward_on_non_scalar_needs_a_gradient():
    x = gn.ones(2, 3, requires_grad=True)
    y = x * 2
    with pytest.raises(RuntimeError, match=r"only for scalar outputs, got shape \(2, 3\)"):
        y.backward()
    with pytest.raises(RuntimeError, match=r"gradient has shape \(3,\), expected \(2, 3\)"):
        y.backward(gn.ones(3))
    y.backward(gn.ones(2, 3))
    np.testing.assert_array_equal(x.grad.numpy(), np.full((2, 3), 2.0))


def test_backward_without_requires_grad_raises():
    with pytest.raises(RuntimeError, match="does not require grad"):
        gn.ones(2).sum().backward()


def test_one_element_non_scalar_backward_and_leaf_backward():
    x = gn.tensor([[2.0]], requires_grad=True)
    (x * 3).backward()
    assert x.grad.item() == 3.0
    leaf = gn.ones(2, requires_grad=True)
    leaf.backward(gn.tensor([1.0, 2.0]))
    np.testing.assert_array_equal(leaf.grad.numpy(), [1.0, 2.0])


def test_in_place_on_a_tensor_requiring_grad_raises_outside_no_grad():
    w = gn.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="in-place operation"):
        w += 1
    with pytest.raises(RuntimeError, match="item assignment"):
        w[0] = 3.0
    with gn.no_grad():
        w -= 0.5
        w[1] = 4.0
    np.testing.assert_array_equal(w.numpy(), [0.5, 4.0])
    assert w.requires_grad and w.dtype == gn.float32


def test_cast_to_float64_is_differentiable():
    x = gn.tensor([1.0, 2.0], requires_grad=True)
    y = x.to(gn.float64)
    assert y.dtype == gn.float64 and x.double().dtype == gn.float64
    (y * y).sum().backward()
    assert x.grad.dtype == gn.float32
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 4.0])


def test_clone_is_a_differentiable_copy():
    x = gn.tensor([1.0, 2.0], requires_grad=True)
    c = x.clone()
    assert not np.shares_memory(c.numpy(), x.numpy())
    (c * 2).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 2.0])


# ------------------------------------------------------------ a float32 model, end to end
@pytest.mark.parametrize("loss_name", ["mse", "l1", "bce", "bce_logits", "cross_entropy", "nll"])
def test_float32_model_never_returns_a_float64_loss(loss_name):
    gn.manual_seed(0)
    model = gn.nn.Sequential(gn.nn.Linear(4, 8), gn.nn.ReLU(), gn.nn.Dropout(0.2), gn.nn.Linear(8, 3))
    x = gn.tensor(np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32))
    out = model(x)
    target64 = np.random.default_rng(1).uniform(0, 1, (5, 3))       # float64 on purpose
    labels = np.array([0, 2, 1, 1, 0])
    loss = {"mse": lambda: F.mse_loss(out, target64),
            "l1": lambda: gn.nn.L1Loss()(out, gn.tensor(target64)),
            "bce": lambda: F.binary_cross_entropy(F.sigmoid(out), target64, weight=np.ones(3)),
            "bce_logits": lambda: gn.nn.BCEWithLogitsLoss(pos_weight=gn.tensor(np.full(3, 2.0)))(out, target64),
            "cross_entropy": lambda: gn.nn.CrossEntropyLoss(weight=gn.tensor(np.ones(3)),
                                                            label_smoothing=0.1)(out, gn.tensor(labels)),
            "nll": lambda: F.nll_loss(F.log_softmax(out, 1), labels)}[loss_name]()
    assert out.dtype == gn.float32 and loss.dtype == gn.float32
    loss.backward()
    assert all(p.grad.dtype == gn.float32 for p in model.parameters())


def test_a_0d_float64_tensor_does_not_promote_a_float32_tensor_like_torch():
    x = gn.tensor([1.0, 2.0], requires_grad=True)
    s = gn.tensor(np.float64(2.0), requires_grad=True)           # 0-d float64
    for y in (x * s, s * x, x + np.array(1.0), x / s, s - x, x ** s):
        assert y.dtype == gn.float32
    (x * s).sum().backward()
    assert s.grad.dtype == gn.float64 and s.grad.item() == 3.0 and x.grad.dtype == gn.float32
    assert (x + gn.tensor([1.0, 2.0], dtype=gn.float64)).dtype == gn.float64   # both dimensioned: promote


# torch's documented type-promotion rules (torch.result_type), checked without torch
@pytest.mark.parametrize("left, right, expected", [
    ((gn.int64, (2,)), (gn.float32, (2,)), gn.float32),     # categories differ: the float's dtype
    ((gn.float32, (2,)), (gn.int64, ()), gn.float32),       # a 0-d int never widens a float tensor
    ((gn.int64, (2,)), (gn.float64, ()), gn.float64),       # a 0-d float of higher category counts
    ((gn.int64, (2,)), (gn.float16, ()), gn.float16),
    ((gn.float32, (2,)), (gn.float64, ()), gn.float32),     # same category: the dimensioned one wins
    ((gn.float32, (2,)), (gn.float64, (2,)), gn.float64),   # both dimensioned: the wider float
    ((gn.bool_, (2,)), (gn.int64, (2,)), gn.int64),
])
def test_type_promotion_follows_torch(left, right, expected):
    a = gn.zeros(*left[1], dtype=left[0]) if left[1] else gn.tensor(0, dtype=left[0])
    b = gn.zeros(*right[1], dtype=right[0]) if right[1] else gn.tensor(1, dtype=right[0])
    assert (a + b).dtype == expected and (b * a).dtype == expected


def test_type_promotion_matches_torch_result_type_live():
    torch = pytest.importorskip("torch")
    names = ["bool_", "int32", "int64", "float16", "float32", "float64"]
    for x in names:
        for y in names:
            for x_shape, y_shape in [((2,), (2,)), ((2,), ()), ((), (2,))]:
                tx = torch.zeros(x_shape, dtype=getattr(torch, x.rstrip("_")))
                ty = torch.zeros(y_shape, dtype=getattr(torch, y.rstrip("_")))
                if tx.dtype == torch.bool and ty.dtype == torch.bool:
                    continue          # bool + bool is logical or in torch, not arithmetic
                gx = gn.tensor(np.zeros(x_shape, dtype=getattr(gn, x)))
                gy = gn.tensor(np.zeros(y_shape, dtype=getattr(gn, y)))
                want = str(torch.result_type(tx, ty)).replace("torch.", "")
                assert str((gx + gy).dtype) == want, (x, x_shape, y, y_shape)
