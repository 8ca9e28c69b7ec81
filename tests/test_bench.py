"""The benchmark harness runs end to end (no thresholds: speed is measured, not tested)."""
import json
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).parent.parent


@pytest.mark.slow
def test_bench_quick_writes_table_and_json(tmp_path):
    result = subprocess.run([sys.executable, "-m", "bench", "--quick", "--only", "mlp,rnn_seq", "--rounds", "1",
                             "--out", str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads((tmp_path / "results.json").read_text())
    assert [r["label"] for r in report["results"]] == ["mlp", "rnn_seq"]
    for row in report["results"]:
        g = row["glassnet"]
        assert g["median_ms"] > 0 and g["p10_ms"] <= g["median_ms"] <= g["p90_ms"] and g["samples_per_s"] > 0
        assert "peak_above_baseline_mb" in g and 0 <= g["other_cpu_frac"] <= 1
    assert report["meta"]["gemm_gflops"] > 0
    assert report["meta"]["malloc"] == "glassnet's malloc thresholds for every worker"
    table = (tmp_path / "results.md").read_text()
    assert "| mlp |" in table and "| rnn_seq |" in table


def test_other_workers_get_glassnets_malloc_thresholds():
    """torch and the NumPy floor run with the allocator thresholds glassnet sets for itself."""
    sys.path.insert(0, str(ROOT))
    from bench.run import _same_malloc_env
    from glassnet.allocator import MMAP_THRESHOLD, TRIM_THRESHOLD
    assert _same_malloc_env() == {"MALLOC_MMAP_THRESHOLD_": str(MMAP_THRESHOLD),
                                  "MALLOC_TRIM_THRESHOLD_": str(TRIM_THRESHOLD)}


@pytest.mark.slow
def test_bench_floors_add_numpy_column(tmp_path):
    result = subprocess.run([sys.executable, "-m", "bench", "--quick", "--floors", "--only", "mlp_b1_infer,rnn_seq",
                             "--rounds", "1", "--out", str(tmp_path)], cwd=ROOT, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    rows = {r["label"]: r for r in json.loads((tmp_path / "results.json").read_text())["results"]}
    assert rows["mlp_b1_infer"]["numpy"]["median_ms"] > 0       # a floor exists for this workload
    assert "numpy" not in rows["rnn_seq"]                        # and none for this one
    assert "NumPy floor" in (tmp_path / "results.md").read_text()


@pytest.mark.parametrize("name", ["mlp", "mlp_b1_infer", "lenet5", "cifar_cnn", "lstm_seq", "char_lstm"])
def test_each_floor_builds_and_steps(name):
    sys.path.insert(0, str(ROOT / "bench"))
    from floors import build
    kwargs = {"mlp": {"batch": 8}, "lenet5": {"batch": 2}, "cifar_cnn": {"batch": 2},
              "lstm_seq": {"batch": 4, "seq_len": 3}, "char_lstm": {"batch": 2, "seq_len": 3}}.get(name, {})
    step, flops = build(name, kwargs)
    step()
    assert flops is None or flops > 0


def test_the_ratio_pairs_each_round_with_its_neighbour():
    """The machine slows 3x for two rounds, for both frameworks alike: every round's ratio is
    0.5, and so is the reported one, with no spread."""
    from bench.run import paired_ratio
    glassnet, torch = [1.0, 1.0, 3.0, 3.0, 1.0], [2.0, 2.0, 6.0, 6.0, 2.0]
    ratio, (p25, p75) = paired_ratio(glassnet, torch)
    assert ratio == 0.5 and p25 == p75 == 0.5
    ratio, (p25, p75) = paired_ratio([1.0, 2.0, 3.0, 4.0], [2.0, 2.0, 2.0, 2.0])
    assert ratio == 1.25 and p25 < 1.25 < p75
    assert paired_ratio([3.0], [2.0]) == (1.5, [1.5, 1.5])


def test_recurrent_lanes_lead_computes_todays_forward():
    """bench/recurrent_lanes.py (a measured lead): the LSTM time loops split by hidden units over
    two lanes give the states and gradients the library's loops give."""
    from glassnet import kernels
    if kernels.BACKEND != "numba":
        pytest.skip("the lead's lanes run compiled loops")
    from bench.recurrent_lanes import _sgemm, compare, compare_backward
    try:
        _sgemm()
    except RuntimeError:
        pytest.skip("NumPy's BLAS exports no cblas_sgemm")
    for measure in (compare, compare_backward):
        difference, times = measure(T=5, N=3, H=8, rounds=1)
        assert difference < 1e-6
        assert set(times) == {"today", "split by units"}
