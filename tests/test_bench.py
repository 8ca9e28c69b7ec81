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
    table = (tmp_path / "results.md").read_text()
    assert "| mlp |" in table and "| rnn_seq |" in table
