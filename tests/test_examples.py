"""The example scripts run as a reader would run them."""
import pathlib
import subprocess
import sys

import pytest

EXAMPLES = sorted((pathlib.Path(__file__).parent.parent / "examples").glob("*.py"))


@pytest.mark.slow
@pytest.mark.parametrize("script", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_runs(script):
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip()


def test_toy_cnn_example_prints_the_notes_gradient():
    out = subprocess.run([sys.executable, str(EXAMPLES[[p.stem for p in EXAMPLES].index("toy_cnn")])],
                         capture_output=True, text=True, timeout=120).stdout
    assert "dL/dF1 centre weight = 1.336" in out
