"""kernels/lanes.py: work shared among threads, and the process-wide switch between lanes and
BLAS threads (glassnet.threads.use_lanes / use_blas) that the layers make."""
import multiprocessing
import sys
import threading

import numpy as np
import pytest

import glassnet as gn
from glassnet import kernels, nn, threads
from glassnet.kernels import lanes


def test_shares_cut_a_range_into_contiguous_parts():
    assert lanes.shares(64, 2) == [(0, 32), (32, 64)]
    assert lanes.shares(7, 3) == [(0, 2), (2, 4), (4, 7)]
    assert lanes.shares(2, 4) == [(0, 1), (1, 2)]                  # never an empty part
    assert lanes.shares(5, 1) == [(0, 5)]
    for n, k in ((1, 1), (10, 3), (33, 8)):
        parts = lanes.shares(n, k)
        assert parts[0][0] == 0 and parts[-1][1] == n
        assert all(a < b for a, b in parts) and all(p[1] == q[0] for p, q in zip(parts, parts[1:]))


def test_run_gives_results_in_order_from_several_threads():
    seen = []

    def part(a, b):
        seen.append(threading.get_ident())
        return sum(range(a, b))
    assert lanes.run(part, lanes.shares(100, 3)) == [sum(range(0, 33)), sum(range(33, 66)), sum(range(66, 100))]
    assert threading.get_ident() in seen and len(set(seen)) == 3     # the caller took the first part


def test_parts_really_overlap_in_time():
    """Parts that each wait for all the others finish only if they run at the same time."""
    barrier = threading.Barrier(3, timeout=10)
    assert lanes.run(lambda k: barrier.wait() is not None and k, [(1,), (2,), (3,)]) == [1, 2, 3]


def test_an_error_in_any_lane_reaches_the_caller_after_every_lane_ends():
    finished = []

    def part(k):
        if k == 1:
            raise ValueError("lane 1 failed")
        finished.append(k)
        return k
    with pytest.raises(ValueError, match="lane 1 failed"):
        lanes.run(part, [(0,), (1,), (2,)])
    assert sorted(finished) == [0, 2]
    assert lanes.run(part, [(0,), (2,)]) == [0, 2]                 # the pool still works


def test_a_part_that_runs_lanes_again_runs_them_in_turn():
    inner_threads = []

    def inner(k):
        inner_threads.append(threading.get_ident())
        return k

    def outer(k):
        before = len(inner_threads)
        out = lanes.run(inner, [(k,), (k + 10,)])
        assert set(inner_threads[before:]) == {threading.get_ident()}
        return out
    assert lanes.run(outer, [(1,), (2,)]) == [[1, 11], [2, 12]]


def _child(queue):
    queue.put(lanes.run(lambda k: k * k, [(2,), (3,)]))


@pytest.mark.skipif(sys.platform != "linux", reason="fork")
def test_a_forked_child_gets_lanes_of_its_own():
    lanes.run(lambda k: k, [(0,), (1,)])                           # the parent's pool exists
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_child, args=(queue,))
    child.start()
    child.join(30)
    assert child.exitcode == 0
    assert queue.get(timeout=5) == [4, 9]


# -- the process-wide switch ------------------------------------------------------------------

@pytest.fixture
def two_threads(monkeypatch):
    """Two threads, and no recurrent layer run lately (earlier tests' would keep lanes away)."""
    requested = threads._requested
    gn.set_num_threads(2)
    monkeypatch.setattr(threads, "_blas_wanted_at", -1e9)
    yield
    threads.use_blas()
    gn.set_num_threads(requested)


def _blas_is_told():
    return bool(threads._find_blas())


def test_lanes_hold_blas_at_one_thread_until_blas_threads_are_wanted(two_threads):
    assert threads.use_lanes() == 2 and gn.get_num_threads() == 2
    if _blas_is_told():
        assert threads.blas_threads() == 1
    gn.set_num_threads(2)                                          # a new count keeps the lanes
    if _blas_is_told():
        assert threads.blas_threads() == 1
    assert threads.use_blas() == 2
    if _blas_is_told():
        assert threads.blas_threads() == 2


def test_one_thread_means_no_lanes(two_threads):
    gn.set_num_threads(1)
    assert threads.use_lanes() == 1 and not threads._lanes


@pytest.mark.skipif(kernels.BACKEND != "numba", reason="the Winograd path needs the compiled transforms")
def test_a_winograd_layer_takes_lanes_and_a_recurrent_layer_takes_them_back(two_threads, monkeypatch):
    rng = np.random.default_rng(0)
    conv, lstm = nn.Conv2d(32, 32, 3, padding=1), nn.LSTM(8, 16)
    x = gn.tensor(rng.standard_normal((4, 32, 8, 8)).astype(np.float32), requires_grad=True)
    conv(x).sum().backward()
    assert threads._lanes
    out, _ = lstm(gn.tensor(rng.standard_normal((5, 3, 8)).astype(np.float32)))
    assert not threads._lanes
    if _blas_is_told():
        assert threads.blas_threads() == 2
    monkeypatch.setattr(threads, "LANES_QUIET", 0.0)                 # (else BLAS threads stay a second)
    conv(x)
    assert threads._lanes
    out.sum().backward()                                           # the LSTM's backward takes them back too
    assert not threads._lanes


@pytest.mark.skipif(kernels.BACKEND != "numba", reason="the Winograd path needs the compiled transforms")
def test_a_layer_in_lanes_computes_what_it_does_on_one_thread(two_threads):
    """float32 through the layer: the images are the same sums in any lane; dW adds one partial
    per lane, so it may differ from the one-thread sum by rounding only."""
    rng = np.random.default_rng(1)
    conv = nn.Conv2d(32, 48, 3, padding=1)
    x_np = rng.standard_normal((6, 32, 10, 10)).astype(np.float32)
    results = []
    for count in (1, 2):
        gn.set_num_threads(count)
        conv.zero_grad()
        x = gn.tensor(x_np, requires_grad=True)
        y = conv(x)
        (y * y).sum().backward()
        results.append((y.numpy().copy(), x.grad.numpy().copy(), conv.weight.grad.numpy().copy()))
    (y1, dx1, dW1), (y2, dx2, dW2) = results
    np.testing.assert_allclose(y2, y1, rtol=1e-6, atol=1e-6 * np.abs(y1).max())
    np.testing.assert_allclose(dx2, dx1, rtol=1e-6, atol=1e-6 * np.abs(dx1).max())
    np.testing.assert_allclose(dW2, dW1, rtol=1e-5, atol=1e-6 * np.abs(dW1).max())


@pytest.mark.skipif(kernels.BACKEND != "numba", reason="the Winograd path needs the compiled transforms")
def test_a_model_with_recurrent_layers_keeps_blas_threads(two_threads, monkeypatch):
    """Right after a recurrent layer the convolution takes the shifted rows on BLAS threads, not
    lanes; once no recurrent layer has run for LANES_QUIET seconds, lanes again."""
    from glassnet.kernels import convolution as K
    geometry = ((4, 32, 8, 8), (32, 32, 3, 3), 1, (1, 1, 1, 1), (1, 1), (1, 1), (8, 8))
    assert K.Conv2dSteps(geometry).winograd
    nn.LSTM(8, 16)(gn.tensor(np.zeros((3, 2, 8), np.float32)))
    steps = K.Conv2dSteps(geometry)
    assert not steps.winograd and steps.shifts and not threads._lanes
    monkeypatch.setattr(threads, "LANES_QUIET", 0.0)
    assert K.Conv2dSteps(geometry).winograd
