"""Shared test helpers.

* ``rng``: seeded float64 tensors for gradient checks (``rng.tensor(2, 3)``).
* ``fixtures``: torch reference values. ``fixtures["linear"]`` is a dict of arrays for
  the case "linear", read from the committed ``tests/fixtures/*.npz`` (written by
  ``tests/fixtures/make_fixtures.py``). When torch is installed, every parity test also
  runs a second time against values computed live by the same generators.
"""
from __future__ import annotations

import importlib.util
import pathlib
import sys

import numpy as np
import pytest

import glassnet as gn

FIXTURE_DIR = pathlib.Path(__file__).parent / "fixtures"
sys.path.insert(0, str(FIXTURE_DIR))


class _Rng:
    def __init__(self, seed=0):
        self.np = np.random.default_rng(seed)

    def array(self, *shape, low=None, high=None):
        if low is not None:
            return self.np.uniform(low, high, shape)
        return self.np.standard_normal(shape)

    def tensor(self, *shape, requires_grad=True, low=None, high=None, away_from_zero=False):
        """A float64 tensor; ``away_from_zero`` keeps entries off kinks (relu, abs, max ties)."""
        a = self.array(*shape, low=low, high=high)
        if away_from_zero:
            a = np.sign(a) * (0.1 + np.abs(a))
        return gn.tensor(a, dtype=gn.float64, requires_grad=requires_grad)


@pytest.fixture
def rng():
    return _Rng(0)


@pytest.fixture
def one_blas_thread():
    """BLAS on one thread for the test (rules such as Winograd's read the count), then the
    caller's setting back (the automatic choice included)."""
    requested = gn.threads._requested
    gn.set_num_threads(1)
    yield
    gn.set_num_threads(requested)


class _Fixtures:
    def __init__(self, cases):
        self.cases = cases

    def __getitem__(self, name):
        if name not in self.cases:
            raise KeyError(f"no fixture case {name!r}: regenerate with python tests/fixtures/make_fixtures.py")
        return self.cases[name]

    def names(self, prefix=""):
        return sorted(n for n in self.cases if n.startswith(prefix))


def _committed_cases():
    cases = {}
    for path in sorted(FIXTURE_DIR.glob("*.npz")):
        with np.load(path) as data:
            for key in data.files:
                case, _, field = key.partition("/")
                cases.setdefault(case, {})[field] = data[key]
    return cases


_CACHE = {}


def _live_cases():
    import make_fixtures  # noqa: E402  (tests/fixtures is on sys.path)
    return make_fixtures.all_cases()


@pytest.fixture(scope="session", params=["committed", "live"])
def fixtures(request):
    if request.param == "live":
        if importlib.util.find_spec("torch") is None:
            pytest.skip("live parity needs torch (pip install torch==2.13.0)")
        if "live" not in _CACHE:
            _CACHE["live"] = _Fixtures(_live_cases())
        return _CACHE["live"]
    if "committed" not in _CACHE:
        _CACHE["committed"] = _Fixtures(_committed_cases())
    return _CACHE["committed"]


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: end-to-end runs, skipped by default (run them with -m slow)")


def pytest_collection_modifyitems(config, items):
    """The default run (no -m) leaves the slow end-to-end jobs out, to stay within minutes on
    two shared cores; `python -m pytest -m slow` runs only them (CI runs both, .ci/run), and
    any -m expression (e.g. -m "slow or not slow") chooses for itself."""
    if config.option.markexpr:
        return
    slow = [item for item in items if item.get_closest_marker("slow")]
    if slow:
        config.hook.pytest_deselected(items=slow)
        items[:] = [item for item in items if not item.get_closest_marker("slow")]
