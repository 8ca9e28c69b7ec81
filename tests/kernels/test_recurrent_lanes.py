"""The LSTM split by hidden units over BLAS's threads (glassnet/kernels/recurrent_lanes.py) and
the mechanism under it (glassnet/kernels/blas.py):

* the whole primitive, forward and backward, in lanes against the textbook loops of
  tests/functions/reference.py (float32, the only dtype the lanes take) over shapes, lengths,
  directions and biases, and against the one-thread path on the same inputs;
* the rule for when the lanes run (``lanes_for``);
* ``blas.run``: shares really run on two threads, BLAS is held at one thread inside them and
  put back, an error in one share releases the others from their barriers and is raised,
  and a second caller is turned away rather than queued (or waits, when it asks to).
"""
import pathlib
import sys
import threading

import numpy as np
import pytest

import glassnet as gn
from glassnet import threads
from glassnet.functions import recurrent as R
from glassnet.kernels import BACKEND, blas
from glassnet.kernels import recurrent_lanes as RL

sys.path.insert(0, str(pathlib.Path(__file__).parent))
import test_recurrent_kernels as base  # noqa: E402  (its cases and reference runner)

needs_lanes = pytest.mark.skipif(BACKEND != "numba" or blas.available() < 2,
                                 reason="needs the compiled kernels and a pthreads OpenBLAS with 2+ threads")


@pytest.fixture
def two_threads():
    before = threads._requested
    gn.set_num_threads(2)
    yield
    gn.set_num_threads(before)


@pytest.fixture
def counted_runs(monkeypatch):
    """How many times the lanes ran (forward and backward each count one)."""
    calls = []
    real = blas.run

    def run(fn, lanes, wait=False):
        ran = real(fn, lanes, wait)
        calls.append(ran)
        return ran
    monkeypatch.setattr(blas, "run", run)
    return calls


def test_lane_rows_regroup_each_lanes_gates():
    # H = 8 units, 2 lanes of 4: lane 0 takes units 0-3 of i, f, g, o (rows 0-3, 8-11, 16-19,
    # 24-27), lane 1 units 4-7 of each
    expected = [*range(0, 4), *range(8, 12), *range(16, 20), *range(24, 28),
                *range(4, 8), *range(12, 16), *range(20, 24), *range(28, 32)]
    assert RL.lane_rows(8, 2).tolist() == expected
    assert sorted(RL.lane_rows(96, 3).tolist()) == list(range(4 * 96))


@needs_lanes
def test_when_the_lanes_run(two_threads, monkeypatch):
    assert RL.lanes_for(32, 256, np.float32, 2) == 2
    assert RL.lanes_for(32, 64, np.float32, 2) == 2                 # 32 units a lane, the fewest
    assert RL.lanes_for(32, 48, np.float32, 2) == 0                 # 24 a lane: one thread
    assert RL.lanes_for(32, 65, np.float32, 2) == 0                 # units do not split evenly
    assert RL.lanes_for(32, 256, np.float64, 2) == 0                # float32 only (cblas_sgemm)
    assert RL.lanes_for(32, 256, np.float32, 1) == 0                # one thread: nothing to split
    most = min(64, blas.available())                                 # 256 units: at most 8 lanes of 32
    assert RL.lanes_for(32, 256, np.float32, 64) == max(L for L in (1, 2, 4, 8) if L <= most)
    monkeypatch.setattr(RL, "BACKEND", "numpy")
    assert RL.lanes_for(32, 256, np.float32, 2) == 0


# (T, N, I, H); H = 68: 34 units a lane, so the packed products' last panels are narrow
SHAPES = [(5, 3, 4, 64), (4, 6, 3, 96), (3, 5, 2, 68)]


def _compare_float32(got_outputs, got_grads, a, lengths, reverse):
    """Against the float64 reference loops: float32 rounding of sums over T*N rows and up to
    H terms each, so the tolerance scales with each array's largest value."""
    y_ref, finals, g_ref = base._run_reference("lstm", a, lengths, reverse)
    (y, h_n, c_n) = got_outputs
    for name, got, want in (("y", y, y_ref), ("h_n", h_n, finals["h"]), ("c_n", c_n, finals["c"])):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=3e-5, err_msg=name)
    for name, got in zip(["x", "h0", "c0", "W_ih", "W_hh", "b_ih", "b_hh"], got_grads):
        if a[name] is None:
            assert got is None, name
            continue
        assert got.dtype == np.float32, name
        want = g_ref[name]
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=3e-5 * max(1.0, np.abs(want).max()),
                                   err_msg="d" + name)


@needs_lanes
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("reverse", [False, True], ids=["forward", "reverse"])
@pytest.mark.parametrize("with_lengths", [False, True], ids=["full", "lengths"])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "T{}N{}I{}H{}".format(*s))
def test_lanes_match_the_textbook_loop(shape, with_lengths, reverse, bias, two_threads, counted_runs):
    rng = np.random.default_rng(abs(hash((shape, with_lengths, reverse, bias))) % 2**32)
    T, N, I, H = shape
    a = base._case("lstm", T, N, I, H, bias, np.float32, rng)
    a["W_ih"] *= 0.2                         # pre-activations of a few units, not all saturated
    a["W_hh"] *= 0.2
    lengths = base._lengths(T, N, rng) if with_lengths else None
    outputs, grads = base._run_glassnet("lstm", a, lengths, reverse)
    assert counted_runs == [True, True]      # forward and backward both ran in lanes
    _compare_float32(outputs, grads, a, lengths, reverse)


@needs_lanes
def test_lanes_give_the_one_thread_paths_results(two_threads, counted_runs, monkeypatch):
    """Same sums in a different grouping: float32 rounding apart, the same numbers."""
    rng = np.random.default_rng(11)
    a = base._case("lstm", 7, 5, 6, 128, True, np.float32, rng)
    a["W_ih"] *= 0.1
    a["W_hh"] *= 0.1
    lengths = np.array([7, 2, 7, 0, 5])
    in_lanes = base._run_glassnet("lstm", a, lengths, False)
    assert counted_runs == [True, True]
    monkeypatch.setattr(R.LSTMLanes, "start", classmethod(lambda cls, *args: None))
    one_thread = base._run_glassnet("lstm", a, lengths, False)
    assert counted_runs == [True, True]      # the second pass did not touch the lanes
    for got, want in zip([*in_lanes[0], *in_lanes[1]], [*one_thread[0], *one_thread[1]]):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * max(1.0, np.abs(want).max()))


@needs_lanes
def test_nn_lstm_trains_in_lanes_as_on_one_thread(two_threads, counted_runs, monkeypatch):
    """Through the module and autograd: batch_first input, the loss's gradient reaching every
    parameter and the input."""
    def grads():
        gn.manual_seed(0)
        lstm = gn.nn.LSTM(8, 64, batch_first=True)
        x = gn.tensor(np.random.default_rng(1).standard_normal((4, 9, 8)).astype(np.float32), requires_grad=True)
        out, (h, c) = lstm(x)
        (out.sum() + (h * c).sum()).backward()
        return [x.grad.numpy()] + [p.grad.numpy() for p in lstm.parameters()]
    in_lanes = grads()
    assert counted_runs == [True, True]
    monkeypatch.setattr(R.LSTMLanes, "start", classmethod(lambda cls, *args: None))
    for got, want in zip(in_lanes, grads()):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * max(1.0, np.abs(want).max()))


@needs_lanes
def test_shares_run_on_two_threads_with_blas_on_one(two_threads):
    seen, blas_inside = [], []

    def share(k, barrier):
        seen.append((k, threading.get_ident()))
        blas_inside.append(threads.blas_threads())
    before = threads.blas_threads()
    assert blas.run(share, 2)
    assert sorted(k for k, _ in seen) == [0, 1]
    assert dict(seen)[0] == threading.get_ident()          # share 0 on the caller
    assert dict(seen)[1] != threading.get_ident()          # share 1 on OpenBLAS's worker
    assert blas_inside == [1, 1]
    assert threads.blas_threads() == before


@needs_lanes
def test_a_failing_share_releases_the_other_and_is_raised(two_threads):
    """Share 0 waits at a barrier that share 1 never reaches: the abort flag lets it go (a
    hang here would be the bug)."""
    lib = blas._library()
    left = []

    def share(k, barrier):
        if k == 1:
            raise ValueError("share 1 failed")
        left.append(blas.barrier_wait(barrier, 0, 2, 1, np.uint64(lib.sched_yield)))
    with pytest.raises(ValueError, match="share 1 failed"):
        blas.run(share, 2)
    assert left == [False]
    assert blas.run(lambda k, barrier: None, 2)            # and the pool still works


@needs_lanes
def test_a_second_caller_is_turned_away_or_waits(two_threads):
    ran = []
    with blas._running:                                    # as if another thread were inside
        assert blas.run(lambda k, barrier: ran.append(k), 2) is False
    assert ran == []
    assert blas.run(lambda k, barrier: ran.append(k), 2, wait=True)
    assert sorted(ran) == [0, 1]


def test_unavailable_without_the_compiled_backend(monkeypatch):
    monkeypatch.setattr(blas, "BACKEND", "numpy")
    assert blas.available() == 0
    assert blas.run(lambda k, barrier: None, 2) is False


def test_a_platform_without_the_symbols_is_unavailable_not_an_error(monkeypatch):
    """Where looking the library up fails (no libc handle by ``CDLL(None)`` on Windows, say),
    the LSTM takes its one-thread loop instead of raising."""
    def fails():
        raise TypeError("no such library here")
    monkeypatch.setattr(blas, "_found", None)
    monkeypatch.setattr(threads, "_loaded_openblas_paths", fails)
    assert blas.available() == 0
    assert RL.lanes_for(32, 256, np.float32, 2) == 0


@needs_lanes
def test_a_float64_operand_keeps_the_one_thread_loop(two_threads, counted_runs):
    """Lanes compute in float32 only: a float64 W_ih beside float32 x and W_hh is not rounded
    to float32 for them; the loop runs, as it did before the lanes."""
    rng = np.random.default_rng(5)
    a = base._case("lstm", 3, 2, 4, 64, True, np.float32, rng)
    a["W_ih"] = a["W_ih"].astype(np.float64) * 0.2
    a["W_hh"] *= 0.2
    (y, _, _), grads = base._run_glassnet("lstm", a, None, False)
    assert counted_runs == []
    y_ref, _, g_ref = base._run_reference("lstm", a, None, False)
    np.testing.assert_allclose(y, y_ref, rtol=1e-4, atol=3e-5)
    np.testing.assert_allclose(grads[3], g_ref["W_ih"], rtol=1e-4, atol=3e-5 * np.abs(g_ref["W_ih"]).max())
