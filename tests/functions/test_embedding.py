import numpy as np
import pytest

import glassnet as gn
import glassnet.nn as nn
import glassnet.nn.functional as F


def test_embedding_gradcheck(rng):
    w = rng.tensor(5, 3)
    idx = gn.tensor(np.array([[0, 2, 2], [4, 1, 0]]))
    assert gn.gradcheck(lambda w: F.embedding(idx, w), (w,))


def test_embedding_padding_row_gets_no_gradient(rng):
    # the padding row's gradient is zero by definition (torch's semantics), not by calculus
    w = rng.tensor(5, 3)
    idx = gn.tensor(np.array([[0, 2, 2], [4, 1, 0]]))
    y = F.embedding(idx, w, padding_idx=2)
    y.backward(gn.tensor(np.ones(y.shape)))
    assert np.all(w.grad.numpy()[2] == 0)
    np.testing.assert_allclose(w.grad.numpy()[0], 2)
    np.testing.assert_allclose(w.grad.numpy()[3], 0)


def test_embedding_many_lookups_small_table(rng):
    """Many lookups into a small table (the one-hot GEMM branch) still sum correctly."""
    w = rng.tensor(4, 2)
    idx = gn.tensor(np.random.default_rng(0).integers(0, 4, size=(6, 5)))
    assert gn.gradcheck(lambda w: F.embedding(idx, w), (w,))


@pytest.mark.parametrize("case_name", ["embedding_plain", "embedding_padding"])
def test_embedding_matches_torch(case_name, fixtures):
    case = fixtures[case_name]
    w = gn.tensor(case["weight"], requires_grad=True)
    padding_idx = int(case["padding_idx"]) if "padding_idx" in case else None
    y = F.embedding(gn.tensor(case["idx"]), w, padding_idx=padding_idx)
    y.backward(gn.tensor(case["dy"]))
    np.testing.assert_allclose(y.numpy(), case["y"], rtol=1e-6)
    np.testing.assert_allclose(w.grad.numpy(), case["dweight"], rtol=1e-6, atol=1e-12)


def test_embedding_module_init_and_padding_row():
    gn.manual_seed(0)
    e = nn.Embedding(1000, 16, padding_idx=3)
    w = e.weight.numpy()
    assert w.dtype == np.float32 and w.shape == (1000, 16)
    assert np.all(w[3] == 0)
    assert abs(w.std() - 1) < 0.05 and abs(w.mean()) < 0.05   # N(0, 1) as torch
    assert list(e.state_dict()) == ["weight"]
    y = e(gn.tensor([[3, 4], [3, 5]]))
    assert y.shape == (2, 2, 16)
    y.sum().backward()
    assert np.all(e.weight.grad.numpy()[3] == 0) and np.all(e.weight.grad.numpy()[4] == 1)


def test_embedding_index_out_of_range_names_the_index():
    e = nn.Embedding(10, 4)
    with pytest.raises(IndexError, match=r"index 12 is out of range.*10 rows"):
        e(gn.tensor([[1, 12, 3]]))
    with pytest.raises(IndexError, match="index -1"):
        e(gn.tensor([-1]))


def test_from_pretrained_is_frozen():
    e = nn.Embedding.from_pretrained(gn.tensor(np.eye(3)))
    assert not e.weight.requires_grad and e(gn.tensor([2])).numpy().tolist() == [[0, 0, 1]]
