"""What Numba's compiled kernels cost before the first step: a cold cache, then a warm one.

    python -m bench.compile_time        # ~1-2 minutes on 2 cores

Runs the same worker twice in fresh processes sharing one empty ``NUMBA_CACHE_DIR``:

* **cold**: nothing cached, so every kernel a step reaches is compiled by LLVM;
* **warm**: the second process loads what the first one cached (what every run after the
  first on a machine sees).

The worker runs one step of every benchmark workload (bench/workloads.py, float32) and of
a few layers the workloads do not reach (general pooling, 4-D batch norm, dropout, Adam,
float64 copies of the main layers, as gradcheck and the lessons use), timing each step's
first call and its second. A first call's excess over the second is what compiling or
loading its kernels cost. Reported per item and in total, in wall-clock and CPU seconds,
into bench/results/compile_time.{json,md}.
"""
from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).parent
RESULTS = HERE / "results"


def _extras(gn):
    """(label, step) for kernels the workloads do not reach."""
    nn = gn.nn
    rng = __import__("numpy").random.default_rng(0)

    def training_step(model, shape, dtype="float32", optimizer=None):
        x = gn.from_numpy(rng.standard_normal(shape).astype(dtype))
        model = model.to(getattr(gn, dtype)) if dtype != "float32" else model
        opt = (optimizer or (lambda p: gn.optim.SGD(p, lr=0.01, momentum=0.9)))(model.parameters())

        def step():
            opt.zero_grad()
            model(x).sum().backward()
            opt.step()
        return step

    items = [
        ("pooling 3x3/2 pad 1, avg, adaptive", lambda: training_step(nn.Sequential(
            nn.MaxPool2d(3, stride=2, padding=1), nn.AvgPool2d(2), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 4)),
            (16, 8, 32, 32))),
        ("conv-bn2d-relu, Adam", lambda: training_step(nn.Sequential(
            nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.Flatten(), nn.Linear(16 * 16 * 16, 4)),
            (16, 8, 16, 16), optimizer=lambda p: gn.optim.Adam(p, lr=1e-3))),
        ("dropout, GRU/RNN float64", lambda: training_step(_Recurrent(gn), (4, 10, 8), dtype="float64")),
        ("mlp float64", lambda: training_step(nn.Sequential(
            nn.Linear(20, 30), nn.ReLU(), nn.Dropout(0.2), nn.Linear(30, 5)), (16, 20), dtype="float64")),
        ("lenet-like float64", lambda: training_step(nn.Sequential(
            nn.Conv2d(1, 4, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(4, 8, 3, padding=1), nn.ReLU(),
            nn.MaxPool2d(2), nn.Flatten(), nn.Linear(8 * 7 * 7, 10)), (8, 1, 28, 28), dtype="float64")),
    ]
    return items


def _Recurrent(gn):
    nn = gn.nn

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.gru = nn.GRU(8, 16, batch_first=True)
            self.rnn = nn.RNN(16, 16, batch_first=True)
            self.lstm = nn.LSTM(16, 16, batch_first=True)
            self.drop = nn.Dropout(0.1)

        def forward(self, x):
            out, _ = self.gru(x)
            out, _ = self.rnn(self.drop(out))
            out, _ = self.lstm(out)
            return out
    return Model()


def worker() -> dict:
    sys.path.insert(0, str(HERE))
    sys.path.insert(0, str(HERE.parent))
    t0, c0 = time.perf_counter(), time.process_time()
    import glassnet as gn
    from workloads import WORKLOADS, build
    import_s = (time.perf_counter() - t0, time.process_time() - c0)
    gn.set_num_threads(1)
    items = [(name, lambda name=name: build("glassnet", name)[0]) for name in WORKLOADS]
    items += _extras(gn)
    rows = []
    for label, make in items:
        step = make()
        t, c = time.perf_counter(), time.process_time()
        step()
        first = (time.perf_counter() - t, time.process_time() - c)
        t, c = time.perf_counter(), time.process_time()
        step()
        second = (time.perf_counter() - t, time.process_time() - c)
        rows.append({"label": label, "wall_s": max(first[0] - second[0], 0.0), "cpu_s": max(first[1] - second[1], 0.0)})
    return {"backend": gn.kernels.BACKEND, "import_wall_s": import_s[0], "import_cpu_s": import_s[1], "rows": rows}


def _run(cache: str) -> dict:
    env = dict(os.environ, NUMBA_CACHE_DIR=cache)
    out = subprocess.run([sys.executable, __file__, "--worker"], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="glassnet-numba-cache-") as cache:
        cold = _run(cache)
        warm = _run(cache)
    lines = [f"Numba compile and cache-load cost per first step (backend: {cold['backend']}; one BLAS thread)", "",
             "| step | cold wall s | cold CPU s | warm wall s | warm CPU s |", "|---|---|---|---|---|"]
    for c, w in zip(cold["rows"], warm["rows"]):
        lines.append(f"| {c['label']} | {c['wall_s']:.2f} | {c['cpu_s']:.2f} | {w['wall_s']:.2f} | {w['cpu_s']:.2f} |")
    cold_wall, cold_cpu = sum(r["wall_s"] for r in cold["rows"]), sum(r["cpu_s"] for r in cold["rows"])
    warm_wall, warm_cpu = sum(r["wall_s"] for r in warm["rows"]), sum(r["cpu_s"] for r in warm["rows"])
    lines.append(f"| **total** | **{cold_wall:.1f}** | **{cold_cpu:.1f}** | **{warm_wall:.2f}** | **{warm_cpu:.2f}** |")
    lines += ["", f"import glassnet: {warm['import_wall_s']:.2f} s wall, {warm['import_cpu_s']:.2f} s CPU (warm process)",
              f"warm first step of the first workload ({warm['rows'][0]['label']}): "
              f"{warm['rows'][0]['wall_s']:.2f} s wall, {warm['rows'][0]['cpu_s']:.2f} s CPU (Numba's runtime loads here)"]
    text = "\n".join(lines)
    print(text)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "compile_time.md").write_text(text + "\n")
    (RESULTS / "compile_time.json").write_text(json.dumps({"cold": cold, "warm": warm}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    if "--worker" in sys.argv:
        print(json.dumps(worker()))
    else:
        sys.exit(main())
