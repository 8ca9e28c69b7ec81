"""Data-parallel training throughput on one machine, and what it predicts for a cluster.

    python -m bench.distributed            # ~2 minutes: 1 and 2 ranks, bandwidth sweep, the model
    python -m bench.distributed --steps 5  # quicker, noisier

Runs ``mpiexec -n 1`` and ``mpiexec -n 2`` on this file's worker (one BLAS thread per rank,
so two ranks use the two cores one rank would leave half idle), each training
``cifar_cnn`` (bench/workloads.py, per-rank batch 64, float32) under
DistributedDataParallel, and measures per step: the whole step, the wait for gradient
reductions after backward (the communication left exposed), the overlap window (from the
first bucket's Iallreduce to the end of backward), and, with overlap switched off, the step
again. The 2-rank worker also times MPI_Allreduce alone at several message sizes.

From those figures it states the expected throughput at 8 and 32 ranks over a 10 Gbit/s
network with the model written out in ``predict``; results land in
bench/results/distributed.{json,md}.
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import time

HERE = pathlib.Path(__file__).parent
RESULTS = HERE / "results"
SIZES = [4 << 10, 64 << 10, 1 << 20, 4 << 20, 16 << 20, 64 << 20]     # bytes per allreduce
NETWORK_BYTES_PER_S = 10e9 / 8          # 10 Gbit/s
LATENCY_S = 30e-6                       # per ring step over TCP Ethernet (assumed; stated in the output)


# ------------------------------------------------------------------------------ worker (under mpiexec)
def worker(steps: int) -> dict:
    sys.path.insert(0, str(HERE.parent))
    import numpy as np

    import glassnet as gn
    import glassnet.distributed as dist
    from bench.workloads import cifar_cnn
    from glassnet.distributed.collectives import wait
    from mpi4py import MPI

    dist.init_process_group("mpi")
    rank, world = dist.get_rank(), dist.get_world_size()
    comm = MPI.COMM_WORLD

    # cifar_cnn's model and data, with the step rebuilt around DDP
    import bench.workloads as workloads
    captured = {}
    original = workloads._train_step

    def capture(fw, model, x, y, loss_fn, clip=None):
        captured.update(model=model, x=x, y=y, loss_fn=loss_fn)
        return original(fw, model, x, y, loss_fn, clip)
    workloads._train_step = capture
    cifar_cnn(gn, batch=64)
    workloads._train_step = original
    model, x, y, loss_fn = captured["model"], captured["x"], captured["y"], captured["loss_fn"]
    ddp = gn.nn.parallel.DistributedDataParallel(model)
    opt = gn.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    def run(n, overlap):
        ddp.overlap = overlap
        times, waits, windows, backwards = [], [], [], []
        for _ in range(n):
            wait(comm.Ibarrier())
            start = time.perf_counter()
            waited = ddp.comm_wait_seconds
            opt.zero_grad()
            loss = loss_fn(ddp(x), y)
            backward_start = time.perf_counter()
            loss.backward()
            end_backward = time.perf_counter()
            opt.step()
            times.append(time.perf_counter() - start)
            waits.append(ddp.comm_wait_seconds - waited)
            windows.append(ddp.last_overlap_window)
            backwards.append(end_backward - backward_start)
        return {"step_s": statistics.median(times), "exposed_comm_s": statistics.median(waits),
                "overlap_window_s": statistics.median(windows), "backward_s": statistics.median(backwards)}

    run(2, True)                                        # warm-up: JIT, allocator
    result = {"world": world, "batch_per_rank": 64, "overlap": run(steps, True), "no_overlap": run(steps, False)}
    result["buckets_bytes"] = [b.flat.nbytes for b in ddp._buckets]

    # the gradient reductions alone, as one step issues them (no compute to hide behind)
    def reduce_all():
        requests = [comm.Iallreduce(MPI.IN_PLACE, b.flat, op=MPI.SUM) for b in ddp._buckets]
        for r in requests:
            wait(r)
    result["comm_alone_s"] = _timed(reduce_all, comm, steps)
    if world > 1:
        sweep = {}
        for size in SIZES:
            buf = np.ones(size // 4, np.float32)
            sweep[size] = _timed(lambda: wait(comm.Iallreduce(MPI.IN_PLACE, buf, op=MPI.SUM)), comm,
                                 max(3, min(20, (64 << 20) // size)))
        result["allreduce_s"] = sweep
    return result if rank == 0 else None


def _timed(fn, comm, reps):
    from glassnet.distributed.collectives import wait
    fn()
    times = []
    for _ in range(reps):
        wait(comm.Ibarrier())
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


# ------------------------------------------------------------------------------ the model
def ring_allreduce_s(nbytes: float, p: int) -> float:
    """Ring all-reduce: 2(p-1) steps, each moving nbytes/p: 2(p-1)/p * bytes / bandwidth + 2(p-1) latency."""
    if p == 1:
        return 0.0
    return 2 * (p - 1) / p * nbytes / NETWORK_BYTES_PER_S + 2 * (p - 1) * LATENCY_S


def predict(one: dict, two: dict, p: int) -> dict:
    """Step time at p ranks, one per machine, on the 10 Gbit/s network.

        compute   = the 1-rank step (same per-rank batch; no communication to wait for)
        comm(p)   = sum over buckets of ring_allreduce_s(bucket bytes, p)
        no overlap: step = compute + comm(p)
        overlap:    step = compute + max(comm(p) - window, comm_last(p))
    where window is the measured overlap window (first Iallreduce to end of backward, 2 ranks):
    reductions run while backward computes earlier layers, except the last bucket's, which
    can only start when backward ends.
    """
    compute = one["overlap"]["step_s"]
    buckets = two["buckets_bytes"]
    comm = sum(ring_allreduce_s(b, p) for b in buckets)
    last = ring_allreduce_s(buckets[-1], p)
    window = two["overlap"]["overlap_window_s"]
    exposed = max(comm - window, last)
    batch = two["batch_per_rank"]
    return {"ranks": p, "comm_s": comm, "exposed_comm_s": exposed,
            "step_no_overlap_s": compute + comm, "step_overlap_s": compute + exposed,
            "samples_per_s_no_overlap": p * batch / (compute + comm),
            "samples_per_s_overlap": p * batch / (compute + exposed)}


# ------------------------------------------------------------------------------ driver
def _launch(n: int, steps: int) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1",
               NUMBA_NUM_THREADS="1", PYTHONPATH=str(HERE.parent))
    out = RESULTS / f".distributed_{n}.json"
    done = subprocess.run([shutil.which("mpiexec") or "mpiexec", "-n", str(n), sys.executable, __file__,
                           "--worker", "--steps", str(steps), "--out", str(out)], env=env, text=True,
                          capture_output=True, timeout=900)
    if done.returncode != 0:
        sys.exit(f"bench.distributed: mpiexec -n {n} failed:\n{done.stderr[-2000:]}")
    result = json.loads(out.read_text())
    out.unlink()
    return result


def _report(one, two, predictions) -> str:
    ms = lambda s: f"{s * 1e3:.1f}"  # noqa: E731
    lines = ["| ranks (one machine) | step ms | samples/s | exposed comm ms | step ms, overlap off | "
             "comm alone ms | overlap window ms |", "|---|---|---|---|---|---|---|"]
    for r in (one, two):
        lines.append(f"| {r['world']} | {ms(r['overlap']['step_s'])} | "
                     f"{r['world'] * r['batch_per_rank'] / r['overlap']['step_s']:.0f} | "
                     f"{ms(r['overlap']['exposed_comm_s'])} | {ms(r['no_overlap']['step_s'])} | "
                     f"{ms(r['comm_alone_s'])} | {ms(r['overlap']['overlap_window_s'])} |")
    lines += ["", "| allreduce size | time ms (2 ranks) | algorithm bandwidth GB/s |", "|---|---|---|"]
    for size, seconds in two["allreduce_s"].items():
        lines.append(f"| {int(size) / 1024:.0f} KiB | {seconds * 1e3:.3f} | {int(size) / seconds / 1e9:.2f} |")
    lines += ["", f"Model at 10 Gbit/s, {LATENCY_S * 1e6:.0f} us per ring step, buckets "
              f"{[round(b / 2**20, 2) for b in two['buckets_bytes']]} MiB:", "",
              "| ranks | comm ms | exposed with overlap ms | samples/s no overlap | samples/s overlap |",
              "|---|---|---|---|---|"]
    for p in predictions:
        lines.append(f"| {p['ranks']} | {ms(p['comm_s'])} | {ms(p['exposed_comm_s'])} | "
                     f"{p['samples_per_s_no_overlap']:.0f} | {p['samples_per_s_overlap']:.0f} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.distributed", description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        result = worker(args.steps)
        if result is not None:
            pathlib.Path(args.out).write_text(json.dumps(result))
        return 0
    RESULTS.mkdir(exist_ok=True)
    load_before = os.getloadavg()[0]        # other processes' demand for the cores: the noise to expect
    one, two = _launch(1, args.steps), _launch(2, args.steps)
    load_after = os.getloadavg()[0]
    predictions = [predict(one, two, p) for p in (2, 8, 32)]
    data = {"date": time.strftime("%Y-%m-%d"), "cpus": os.cpu_count(), "load_average": [load_before, load_after],
            "one": one, "two": two, "predictions": predictions,
            "network_bytes_per_s": NETWORK_BYTES_PER_S, "latency_s": LATENCY_S}
    (RESULTS / "distributed.json").write_text(json.dumps(data, indent=1))
    text = (f"{time.strftime('%Y-%m-%d')}, {os.cpu_count()} CPUs, 1-minute load average {load_before:.1f} before "
            f"and {load_after:.1f} after (the run's own ranks included)\n\n" + _report(one, two, predictions))
    (RESULTS / "distributed.md").write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
