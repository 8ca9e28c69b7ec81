"""One framework, one workload, in its own process: build it, then time chunks of steps on request.

Protocol (line-based JSON on stdin/stdout): the parent sends {"steps": n} and the
worker answers {"times": [...seconds per step...], "cpu": own CPU seconds}; {"done": true}
makes it answer its peak memory and exit. Separate processes keep each framework's
memory and thread pools to itself.
"""
from __future__ import annotations

import json
import os
import resource
import sys
import time


def _peak_mb() -> float:
    """This process's peak resident set (VmHWM). Not ru_maxrss: Linux carries that across
    fork+exec, so a worker would inherit its parent's high-water mark."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def main() -> None:
    framework, workload, kwargs, threads = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), int(sys.argv[4])
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    if framework == "torch":
        import torch as fw
        fw.set_num_threads(threads)
    elif framework == "numpy":           # the NumPy floor (bench/floors.py)
        import numpy as fw
    else:
        import glassnet as fw
        fw.allocator.tune()           # what glassnet's training commands do (glassnet/allocator.py)
    # one threaded GEMM first, so the BLAS library's per-thread buffers (a fixed cost of each
    # framework, tens of MB) count in the baseline and not in the workload's peak
    a = fw.ones((512, 512))
    a @ a
    if framework == "glassnet":
        # likewise Numba's runtime (LLVM, ~60 MB), which loads on the first compiled kernel
        # where torch loads its libraries on import
        fw.relu(a)
    if framework == "numpy":
        from floors import build as build_floor
        make = lambda: build_floor(workload, kwargs)  # noqa: E731
    else:
        from workloads import build
        make = lambda: build(framework, workload, kwargs)  # noqa: E731
    baseline = _rss_mb()
    step, flops = make()
    for _ in range(3):  # warm-up: first-touch allocations, lazy init, BLAS thread start
        step()
    print(json.dumps({"ready": True, "flops": flops, "baseline_mb": baseline}), flush=True)
    for line in sys.stdin:
        msg = json.loads(line)
        if msg.get("done"):
            peak = _peak_mb()
            print(json.dumps({"peak_mb": peak, "peak_above_baseline_mb": peak - baseline}), flush=True)
            return
        times = []
        cpu0 = time.process_time()
        for _ in range(msg["steps"]):
            t0 = time.perf_counter()
            step()
            times.append(time.perf_counter() - t0)
        print(json.dumps({"times": times, "cpu": time.process_time() - cpu0}), flush=True)


if __name__ == "__main__":
    main()
