"""glassnet vs PyTorch (CPU), step for step, in the same run.

    python -m bench                 # all workloads + the scaling sweep (a few minutes)
    python -m bench --quick         # a sub-minute smoke run (no thresholds)
    python -m bench --only mlp,lstm_seq --no-sweep
    python -m bench --floors --no-sweep   # add NumPy's own floor (bench/floors.py) per workload

Each (framework, workload) runs in its own worker process (bench/worker.py) so memory
and thread pools are separate; both use the same number of BLAS/OpenMP threads. The
parent alternates the two frameworks chunk by chunk so machine drift hits both, and
watches /proc/stat: a chunk during which other processes used more than
``--noise-limit`` of the CPUs is thrown away and repeated after a pause. Reports
median and p10/p90 ms per step, samples/s, glassnet/torch ratios (paired: the median over
rounds of each round's glassnet chunk against the torch chunk beside it, so that drift
between rounds cancels; the rounds' p25-p75 beside it), peak memory above
each process's post-import baseline, and GFLOP/s against this machine's measured
large-matrix float32 GEMM throughput. Writes bench/results/results.{md,json}.

Allocator: the glassnet worker calls ``glassnet.allocator.tune()`` (as ``glassnet train``
does), which raises glibc's mmap and trim thresholds, so per-step buffers are reused
instead of being unmapped and faulted back in every step. By default the torch and NumPy-floor workers get the same
thresholds (through glibc's MALLOC_*_THRESHOLD_ variables): measured here, torch's LeNet-5
step under glibc's defaults swings between 6.5 and 9.3 ms from one process to the next
(p90 up to 17 ms) and holds at 6.6-7.1 ms with them. ``--malloc-as-shipped`` times torch
and the floors under glibc's defaults instead.
"""
from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import os
import pathlib
import platform
import statistics
import subprocess
import sys
import time

HERE = pathlib.Path(__file__).parent
sys.path.insert(0, str(HERE))
from floors import FLOORS  # noqa: E402
from workloads import TARGETS, WORKLOADS, sweep  # noqa: E402

BATCH = {"mlp": 128, "mlp_b1_infer": 1, "mlp_b1_compiled": 1, "lenet5": 128, "cifar_cnn": 64, "bn_mlp": 256,
         "rnn_seq": 128, "lstm_seq": 128, "gru_seq": 128, "char_lstm": 32}


def _cpu_busy():
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    with open("/proc/stat") as f:
        fields = [int(v) for v in f.readline().split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


def _same_malloc_env():
    """glibc's environment spelling of the thresholds glassnet sets for itself with mallopt."""
    from glassnet.allocator import MMAP_THRESHOLD, TRIM_THRESHOLD
    return {"MALLOC_MMAP_THRESHOLD_": str(MMAP_THRESHOLD), "MALLOC_TRIM_THRESHOLD_": str(TRIM_THRESHOLD)}


class Worker:
    def __init__(self, framework, workload, kwargs, threads, same_malloc=True):
        env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads),
                   MKL_NUM_THREADS=str(threads), PYTHONPATH=str(HERE.parent))
        if same_malloc and framework != "glassnet":
            env.update(_same_malloc_env())
        self.framework = framework
        self.proc = subprocess.Popen([sys.executable, str(HERE / "worker.py"), framework, workload,
                                      json.dumps(kwargs), str(threads)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, env=env)
        self.info = self._read()

    def _read(self):
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"{self.framework} worker died (see its error above)")
        return json.loads(line)

    def run(self, steps):
        self.proc.stdin.write(json.dumps({"steps": steps}) + "\n")
        self.proc.stdin.flush()
        return self._read()

    def finish(self):
        self.proc.stdin.write(json.dumps({"done": True}) + "\n")
        self.proc.stdin.flush()
        out = self._read()
        self.proc.wait()
        return out


def measure_gemm(threads, n=2048, repeats=5):
    """The machine's large-matrix float32 GEMM throughput in NumPy (GFLOP/s), best of ``repeats``."""
    code = (f"import numpy as np, time\na=np.random.rand({n},{n}).astype(np.float32)\nb=a.copy()\na@b\n"
            f"best=min((lambda t0: (a@b, time.perf_counter()-t0)[1])(time.perf_counter()) for _ in range({repeats}))\n"
            f"print(2*{n}**3/best/1e9)")
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads))
    return float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                                check=True).stdout)


def paired_ratio(glassnet_chunks, torch_chunks):
    """(median, [p25, p75]) over rounds of each round's glassnet / torch chunk median: each pair
    ran back to back, so the machine's drift between rounds (other tenants of a virtual
    machine, frequency changes) cancels, where a ratio of the two overall medians would keep it."""
    paired = sorted(g / t for g, t in zip(glassnet_chunks, torch_chunks))
    quarters = statistics.quantiles(paired, n=4) if len(paired) >= 2 else [paired[0]] * 3
    return statistics.median(paired), [quarters[0], quarters[-1]]


def bench_one(label, workload, kwargs, frameworks, threads, rounds, chunk_seconds, noise_limit,
              same_malloc=True):
    workers = {fw: Worker(fw, workload, kwargs, threads, same_malloc) for fw in frameworks}
    probe = {fw: w.run(2)["times"] for fw, w in workers.items()}
    steps = {fw: max(1, min(500, int(chunk_seconds / max(min(t), 1e-6)))) for fw, t in probe.items()}
    times = {fw: [] for fw in frameworks}
    chunk_medians = {fw: [] for fw in frameworks}      # one per round, for the paired ratios
    noise = {fw: [] for fw in frameworks}
    ncpu = os.cpu_count() or 1
    for r in range(rounds):
        order = frameworks if r % 2 == 0 else list(reversed(frameworks))  # alternate who goes first
        for fw in order:
            for attempt in range(4):
                busy0, total0 = _cpu_busy()
                t0 = time.perf_counter()
                out = workers[fw].run(steps[fw])
                wall = time.perf_counter() - t0
                busy1, total1 = _cpu_busy()
                clk = os.sysconf("SC_CLK_TCK")
                other = max(0.0, (busy1 - busy0) / clk - out["cpu"]) / (wall * ncpu)
                if other <= noise_limit or attempt == 3:
                    times[fw] += out["times"]
                    chunk_medians[fw].append(statistics.median(out["times"]))
                    noise[fw].append(other)
                    break
                time.sleep(1.0)  # someone else is busy: wait for a quiet machine and repeat
    result = {"label": label, "workload": workload, "kwargs": kwargs}
    for fw, w in workers.items():
        t = sorted(times[fw])
        q = statistics.quantiles(t, n=10) if len(t) >= 2 else [t[0]] * 9
        mem = w.finish()
        batch = kwargs.get("batch", BATCH[workload])
        entry = {"median_ms": statistics.median(t) * 1e3, "p10_ms": q[0] * 1e3, "p90_ms": q[-1] * 1e3,
                 "steps": len(t), "samples_per_s": batch / statistics.median(t),
                 "peak_mb": mem["peak_mb"], "peak_above_baseline_mb": mem["peak_above_baseline_mb"],
                 "other_cpu_frac": max(noise[fw]) if noise[fw] else 0.0}
        if w.info.get("flops"):
            entry["gflops"] = w.info["flops"] / statistics.median(t) / 1e9
        result[fw] = entry
    if "torch" in result:
        result["ratio"], result["ratio_p25_p75"] = paired_ratio(chunk_medians["glassnet"], chunk_medians["torch"])
        result["ratio_of_medians"] = result["glassnet"]["median_ms"] / result["torch"]["median_ms"]
        result["memory_ratio"] = (result["glassnet"]["peak_above_baseline_mb"]
                                  / max(result["torch"]["peak_above_baseline_mb"], 1e-9))
    return result


def _ms(v: float) -> str:
    """Milliseconds with two decimals, or three significant digits below 0.1 ms (0.0287)."""
    return f"{v:.2f}" if v >= 0.1 else f"{v:.3g}"


def markdown(results, gemm, meta) -> str:
    floors = any("numpy" in r for r in results)
    lines = [f"glassnet vs torch {meta['torch'] or '(not installed)'}, {meta['date']}, {meta['machine']}, "
             f"{meta['threads']} threads each; NumPy float32 GEMM peak {gemm:.1f} GFLOP/s; "
             f"{meta.get('malloc', 'allocator as shipped')}", "",
             "| workload | glassnet ms (p10-p90) | torch ms (p10-p90) | ratio (rounds p25-p75) | target | samples/s gn / torch "
             "| peak MB gn / torch | GEMM % of peak gn / torch | other CPU |"
             + (" NumPy floor ms (floor / torch) |" if floors else ""),
             "|---|---|---|---|---|---|---|---|---|" + ("---|" if floors else "")]
    for r in results:
        g, t = r["glassnet"], r.get("torch")
        ratio = f"{r['ratio']:.2f}" if t else "-"
        spread = f" ({r['ratio_p25_p75'][0]:.2f}-{r['ratio_p25_p75'][1]:.2f})" if t and "ratio_p25_p75" in r else ""
        target = TARGETS.get(r["label"], "")
        mark = "" if not t or not target else (" ok" if r["ratio"] <= target else " MISSED")
        tms = f"{_ms(t['median_ms'])} ({_ms(t['p10_ms'])}-{_ms(t['p90_ms'])})" if t else "-"
        sps = f"{g['samples_per_s']:.0f} / {t['samples_per_s']:.0f}" if t else f"{g['samples_per_s']:.0f}"
        mem = (f"{g['peak_above_baseline_mb']:.0f} / {t['peak_above_baseline_mb']:.0f}" if t
               else f"{g['peak_above_baseline_mb']:.0f}")
        flops = ""
        if "gflops" in g:
            flops = f"{100 * g['gflops'] / gemm:.0f}%" + (f" / {100 * t['gflops'] / gemm:.0f}%" if t else "")
        noise = max(g["other_cpu_frac"], t["other_cpu_frac"] if t else 0)
        floor = ""
        if floors and "numpy" in r:
            f = r["numpy"]
            floor = f" {_ms(f['median_ms'])}" + (f" ({f['median_ms'] / t['median_ms']:.2f})" if t else "") + " |"
        elif floors:
            floor = "  |"
        lines.append(f"| {r['label']} | {_ms(g['median_ms'])} ({_ms(g['p10_ms'])}-{_ms(g['p90_ms'])}) | {tms} | "
                     f"{ratio}{spread}{mark} | {target} | {sps} | {mem} | {flops} | {100 * noise:.0f}% |{floor}")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="a sub-minute smoke run: few rounds, no sweep")
    p.add_argument("--only", default=None, help="comma-separated workloads (default: all)")
    p.add_argument("--no-sweep", action="store_true", help="skip the batch-size / sequence-length sweep")
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument("--rounds", type=int, default=None, help="alternating rounds per workload (default 8, quick 2)")
    p.add_argument("--noise-limit", type=float, default=0.15,
                   help="repeat a chunk if other processes used more than this fraction of the CPUs")
    p.add_argument("--floors", action="store_true",
                   help="also time NumPy's own floor for the workloads bench/floors.py covers")
    p.add_argument("--malloc-as-shipped", action="store_true",
                   help="leave torch's and the floors' allocator at glibc's defaults (glassnet tunes its own)")
    p.add_argument("--out", default=str(HERE / "results"))
    args = p.parse_args(argv)
    frameworks = ["glassnet"] + (["torch"] if importlib.util.find_spec("torch") else [])
    names = args.only.split(",") if args.only else list(WORKLOADS)
    unknown = [n for n in names if n not in WORKLOADS]
    if unknown:
        p.error(f"unknown workloads {unknown}; choose from {list(WORKLOADS)}")
    rounds = args.rounds or (2 if args.quick else 8)
    chunk = 0.05 if args.quick else 0.4
    items = [(n, n, {}) for n in names]
    if not (args.quick or args.no_sweep or args.only):
        items += sweep()
    gemm = measure_gemm(args.threads, n=1024 if args.quick else 2048)
    torch_version = None
    if "torch" in frameworks:  # not imported here: a parent's memory would skew the workers' peaks
        from importlib.metadata import version
        torch_version = version("torch")
    meta = {"date": datetime.date.today().isoformat(), "machine": f"{platform.machine()} {os.cpu_count()} CPUs "
            f"({platform.processor() or platform.platform()})", "threads": args.threads, "torch": torch_version,
            "gemm_gflops": gemm,
            "malloc": "glibc defaults for torch and floors" if args.malloc_as_shipped
            else "glassnet's malloc thresholds for every worker"}
    results = []
    for label, workload, kwargs in items:
        print(f"  {label} ...", file=sys.stderr, flush=True)
        fws = frameworks + (["numpy"] if args.floors and workload in FLOORS else [])
        results.append(bench_one(label, workload, kwargs, fws, args.threads, rounds, chunk, args.noise_limit,
                                 same_malloc=not args.malloc_as_shipped))
    table = markdown(results, gemm, meta)
    print(table)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.md").write_text(table + "\n")
    (out / "results.json").write_text(json.dumps({"meta": meta, "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
