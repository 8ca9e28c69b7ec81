"""Lanes: one layer's work split over glassnet's threads, each lane a whole share of it.

Two ways to use n cores, and glassnet takes each where it measured faster (a third, for the
LSTM, runs shares of its units on BLAS's own threads: ``kernels/recurrent_lanes.py``):

* **BLAS threads** (the default): OpenBLAS splits every matrix product over n threads and
  everything else runs serially on the calling thread. Best where the work *is* products,
  many and short: a recurrent layer's per-step products, an MLP. Splitting a product of a
  few hundred microseconds by hand costs more in thread hand-offs than the second core gives.
* **lanes**: the layer's work is cut into n shares along an axis whose parts never meet
  (the images of a batch), and each share runs start to end on its own thread (``run``):
  its products on one BLAS thread, its compiled transforms (which release the GIL) beside
  them. Best where much of the layer is not products: the Winograd convolution's tile
  transforms are memory passes that BLAS threads cannot speed up.

The two do not mix well in one process: after a product on n threads, OpenBLAS's idle
workers busy-wait for the next one (``OPENBLAS_THREAD_TIMEOUT``, read once when NumPy loads
the library, about 0.1-0.2 s here), and a lane that runs meanwhile shares its core with a
spinning thread: a CIFAR training step with lanes beside two-thread products in its other
layers was slower than with no lanes at all, and with one-thread products throughout the
fastest of the three (the README's benchmark section has the figures). So the switch is
process-wide (``glassnet.threads.use_lanes`` / ``use_blas``): a layer that runs in lanes
holds BLAS at one thread until a layer that wants BLAS threads (the recurrent ones) takes
them back, and for a second after that no layer takes lanes (``threads.lanes_allowed``), so
that a model with both kinds (a convolutional front end to an LSTM) stays on BLAS threads
instead of switching twice a step into spinning workers.

Results do not depend on the number of lanes beyond rounding: each image's outputs are the
same sums, and sums over the batch (weight gradients) add one partial per lane
(``tests/kernels/test_lanes.py``, ``tests/kernels/test_winograd.py``).
"""
from __future__ import annotations

import os
import queue
import threading

_lanes = []                            # the lane threads beside the caller, made on first use
_lanes_pid = None
_lanes_lock = threading.Lock()
_inside = threading.local()            # set on a thread while it runs a share


def shares(n: int, lanes: int):
    """[(start, stop), ...]: range(n) cut into at most ``lanes`` contiguous near-equal parts,
    none empty (fewer parts when n < lanes)."""
    lanes = max(1, min(lanes, n))
    return [(n * k // lanes, n * (k + 1) // lanes) for k in range(lanes)]


class _Task:
    __slots__ = ("fn", "args", "result", "error", "done")

    def __init__(self, fn, args):
        self.fn, self.args, self.result, self.error = fn, args, None, None
        self.done = threading.Event()

    def __call__(self):
        try:
            self.result = _in_lane(self.fn, *self.args)
        except BaseException as exc:   # noqa: BLE001  (handed to the caller, which raises it)
            self.error = exc
        self.done.set()


def _serve(inbox):
    while True:
        inbox.get()()


def _workers(count: int):
    """``count`` lane threads, each with its own inbox, so part k always runs on lane k and every
    part runs at the same time as the others. Made once per process: a forked child inherits
    the list but not the threads, so it makes its own."""
    global _lanes, _lanes_pid
    with _lanes_lock:
        if _lanes_pid != os.getpid():
            _lanes, _lanes_pid = [], os.getpid()
        while len(_lanes) < count:
            inbox = queue.SimpleQueue()
            threading.Thread(target=_serve, args=(inbox,), name=f"glassnet-lane-{len(_lanes) + 1}",
                             daemon=True).start()
            _lanes.append(inbox)
        return _lanes[:count]


def _in_lane(fn, *args):
    _inside.active = True
    try:
        return fn(*args)
    finally:
        _inside.active = False


def run(fn, parts):
    """[fn(*part) for part in parts], the parts run at the same time: the first on the calling
    thread, part k on lane thread k. Returns the results in order; if a part raises, waits for
    the others and raises the first error. Inside a lane (a part that calls ``run`` again) the
    parts run one after another."""
    parts = list(parts)
    if len(parts) <= 1 or getattr(_inside, "active", False):
        return [fn(*part) for part in parts]
    tasks = [_Task(fn, part) for part in parts[1:]]
    for inbox, task in zip(_workers(len(tasks)), tasks):
        inbox.put(task)
    error, results = None, []
    try:
        results.append(_in_lane(fn, *parts[0]))
    except BaseException as exc:       # noqa: BLE001  (raised below, once the lanes are done)
        error = exc
    for task in tasks:
        task.done.wait()
        error = error or task.error
        results.append(task.result)
    if error is not None:
        raise error
    return results
