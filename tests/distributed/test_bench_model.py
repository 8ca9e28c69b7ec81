"""The cluster model of bench/distributed.py, on numbers worked by hand."""
import math
import sys
import pathlib

sys.path.insert(0, str(pathlib.Path(__file__).parent.parent.parent))
from bench.distributed import LATENCY_S, NETWORK_BYTES_PER_S, predict, ring_allreduce_s  # noqa: E402


def test_ring_allreduce_moves_two_p_minus_one_over_p_of_the_bytes():
    assert NETWORK_BYTES_PER_S == 1.25e9                       # 10 Gbit/s
    assert ring_allreduce_s(4e6, 1) == 0.0
    # 8 ranks, 4 MB: 2 * 7/8 * 4e6 B / 1.25e9 B/s = 5.6 ms, plus 14 ring steps of latency
    assert math.isclose(ring_allreduce_s(4e6, 8), 5.6e-3 + 14 * LATENCY_S)


def test_overlap_hides_all_but_the_last_bucket_within_the_window():
    one = {"overlap": {"step_s": 0.100}}
    two = {"buckets_bytes": [4e6, 1e6], "batch_per_rank": 64, "overlap": {"overlap_window_s": 0.050}}
    got = predict(one, two, 8)
    comm = ring_allreduce_s(4e6, 8) + ring_allreduce_s(1e6, 8)
    assert math.isclose(got["step_no_overlap_s"], 0.100 + comm)
    # the window (50 ms) is longer than all communication: only the last bucket's stays exposed
    assert math.isclose(got["step_overlap_s"], 0.100 + ring_allreduce_s(1e6, 8))
    assert math.isclose(got["samples_per_s_overlap"], 8 * 64 / got["step_overlap_s"])
    short = dict(two, overlap={"overlap_window_s": 0.001})
    assert math.isclose(predict(one, short, 8)["exposed_comm_s"], comm - 0.001)
