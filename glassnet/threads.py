"""How many threads glassnet's math uses: ``gn.set_num_threads(n)`` / ``gn.get_num_threads()``.

The heavy lifting is NumPy's BLAS (OpenBLAS in NumPy's wheels), whose worker threads
split every matrix product. On a machine whose cores are shared (a laptop with a browser
open, a CI runner, other jobs), a product split over all cores waits for the slowest
thread, and a descheduled worker makes every small product wait for a whole time slice:
training slows by an order of magnitude rather than by the share of CPU lost.

OpenBLAS's idle workers also busy-wait for the next product before they sleep (how long is
``OPENBLAS_THREAD_TIMEOUT``), and like ``OPENBLAS_NUM_THREADS`` that setting is read once,
when the library loads, so a library imported after NumPy cannot change it. torch takes
one intra-op thread per core and leaves the rest to ``torch.set_num_threads``.

glassnet therefore sets the BLAS thread count itself, through OpenBLAS's C API found in
the library NumPy has already loaded (``openblas_set_num_threads``; the environment
variable ``OPENBLAS_NUM_THREADS`` only works before NumPy is first imported):

* ``gn.set_num_threads(n)`` as in torch: n threads from now on. They are BLAS's, splitting
  every product (glassnet's compiled kernels are serial), except while layers run in
  *lanes* (``use_lanes``, ``glassnet/kernels/lanes.py``): then each of the n threads runs a
  share of the layer with BLAS on one thread, until a layer that wants BLAS threads takes
  them back (``use_blas``). The two do not mix within a step: OpenBLAS's idle workers spin
  for a while after each product, on the cores the lanes need. While in lanes, BLAS is on
  one thread for the whole process, NumPy products of the caller's own included;
  ``use_blas()`` gives it its threads back.
* The default, unless ``GLASSNET_NUM_THREADS`` or one of the usual ``OMP_NUM_THREADS`` /
  ``OPENBLAS_NUM_THREADS`` variables says otherwise: one thread per core that other programs
  leave free (the kernel's count of runnable threads, less this process's own), at least
  one, so that glassnet does not split its products over cores it would have to wait for.
  It is applied when glassnet first computes with threads (the first backward pass, the
  first question for the count, ``gn.get_num_threads()`` included), not on ``import
  glassnet``: BLAS's thread count belongs to the whole host process, and a program that only
  imports glassnet (to read a checkpoint, say) keeps NumPy's own. ``gn.threads.adapt()``
  re-checks (the Trainer calls it at the start of every epoch; at most once a second).

Without OpenBLAS (NumPy built on Accelerate or MKL), the counts are recorded but BLAS is
left to its own settings.
"""
from __future__ import annotations

import ctypes
import os
import pathlib
import time

_SETTERS = ("scipy_openblas_set_num_threads64_", "scipy_openblas_set_num_threads", "openblas_set_num_threads64_",
            "openblas_set_num_threads")
_GETTERS = ("scipy_openblas_get_num_threads64_", "scipy_openblas_get_num_threads", "openblas_get_num_threads64_",
            "openblas_get_num_threads")
_ENV = ("GLASSNET_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")

_blas = None            # (setter, getter) once found, False when there is no OpenBLAS to talk to
_requested = None       # what set_num_threads was last asked for (None: the automatic default)


def _loaded_openblas_paths():
    """Paths of OpenBLAS libraries mapped into this process (Linux), NumPy's own first, else
    NumPy's bundled ones. NumPy's must come first: SciPy brings a second OpenBLAS (Numba loads
    it as soon as it compiles a kernel), and a thread count set there would leave NumPy's
    products, glassnet's, on the count they had."""
    import numpy  # noqa: F401  (make sure NumPy's BLAS is loaded)
    root = pathlib.Path(numpy.__file__).parent
    numpys = (root.parent / "numpy.libs", root / ".dylibs", root / ".libs")
    paths = []
    try:
        with open("/proc/self/maps") as maps:
            for line in maps:
                path = line.split()[-1] if line.rstrip().count(" ") >= 5 else ""
                if "openblas" in path.lower() and path not in paths:
                    paths.append(path)
    except OSError:
        pass
    if not paths:
        for folder in numpys:
            paths += [str(p) for p in sorted(folder.glob("*openblas*"))]
    return sorted(paths, key=lambda p: not any(pathlib.Path(p).is_relative_to(folder) for folder in numpys))


def _find_blas():
    global _blas
    if _blas is None:
        _blas = False
        for path in _loaded_openblas_paths():
            try:
                lib = ctypes.CDLL(path)
            except OSError:
                continue
            setter = next((getattr(lib, n) for n in _SETTERS if hasattr(lib, n)), None)
            getter = next((getattr(lib, n) for n in _GETTERS if hasattr(lib, n)), None)
            if setter is not None and getter is not None:
                setter.argtypes, setter.restype, getter.restype = [ctypes.c_int], None, ctypes.c_int
                _blas = (setter, getter)
                break
    return _blas


def cpu_count() -> int:
    """Cores this process may run on (its affinity mask, not the whole machine)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


_count = None           # glassnet's thread count, once set or chosen
_lanes = False          # whether a layer runs in lanes now (BLAS then held at one thread)


def _apply(n: int) -> None:
    # BLAS only: glassnet's compiled kernels are serial (glassnet/kernels/__init__.py), and
    # numba.set_num_threads would start Numba's thread pool just to size it.
    global _count
    _count = n
    _set_blas(1 if _lanes else n)


def _set_blas(n: int) -> None:
    blas = _find_blas()
    if blas:
        blas[0](n)


def use_lanes() -> int:
    """Switch the process to lanes (``glassnet/kernels/lanes.py``): BLAS on one thread, so that
    each of glassnet's threads can run a share of a layer with its own products. Returns the
    number of lanes, ``get_num_threads()``; with one thread nothing changes. Layers call this,
    users need not: see ``kernels/lanes.py`` for which layers and why."""
    global _lanes
    n = get_num_threads()
    if n > 1 and not _lanes:
        _lanes = True
        _set_blas(1)
    return n


#: seconds after a layer last asked for BLAS threads during which no layer takes lanes
LANES_QUIET = 1.0
_blas_wanted_at = -1e9


def use_blas() -> int:
    """Switch the process back to BLAS threads: products split over ``get_num_threads()``
    threads (the default), and no lanes for ``LANES_QUIET`` seconds (``lanes_allowed``), so
    that a model with both kinds of layer keeps BLAS threads instead of switching every
    step. Returns the count."""
    global _lanes, _blas_wanted_at
    _blas_wanted_at = time.monotonic()
    n = get_num_threads()
    if _lanes:
        _lanes = False
        _set_blas(n)
    return n


def lanes_allowed() -> bool:
    """Whether a layer may take lanes now: more than one thread, and no layer has asked for
    BLAS threads in the last ``LANES_QUIET`` seconds (in a model that mixes the two, every
    switch to lanes would find OpenBLAS's workers still spinning from the last product)."""
    return get_num_threads() > 1 and time.monotonic() - _blas_wanted_at > LANES_QUIET


def blas_threads() -> int:
    """The threads BLAS products use now (1 while layers run in lanes)."""
    blas = _find_blas()
    return int(blas[1]()) if blas else get_num_threads()


def set_num_threads(n: int) -> None:
    """Use ``n`` threads, as ``torch.set_num_threads``: for BLAS products, or as lanes where a
    layer runs in lanes (``use_lanes``).

    This turns the automatic choice off (see the module docstring) until
    ``set_num_threads(None)`` turns it back on.
    """
    global _requested
    if n is None:
        _requested = None
        adapt()
        return
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"set_num_threads: expected a positive integer, got {n!r}")
    _requested = n
    _apply(n)


def get_num_threads() -> int:
    """The number of threads glassnet uses now: BLAS's, or as many lanes while layers run in
    lanes (``use_lanes``)."""
    if _count is None:        # nothing applied yet: glassnet's choice, applied now (module docstring)
        return adapt()
    return _count


def apply_once() -> None:
    """Apply glassnet's thread choice if nothing has yet (the autograd engine calls this at
    every backward pass: the first one is when training starts)."""
    if _count is None:
        adapt()


def _from_environment():
    for name in _ENV:
        value = os.environ.get(name, "").strip()
        if value.isdigit() and int(value) > 0:
            return int(value)
    return None


def _own_running_threads() -> int:
    """Threads of this process that are runnable now (they count in the machine's load)."""
    count = 0
    try:
        for stat in pathlib.Path("/proc/self/task").glob("*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            count += fields[0] == "R"
    except OSError:
        return 0
    return count


def other_running() -> float:
    """How many threads of other programs are running now.

    Linux: the kernel's count of runnable threads (/proc/loadavg, fourth field), minus this
    process's own, averaged over three readings 2 ms apart: an instantaneous view, where
    the load average takes a minute to notice a program that has just started. Elsewhere:
    the 1-minute load average, less one for this process.
    """
    import time
    readings = []
    for i in range(3):
        try:
            with open("/proc/loadavg") as f:
                running = int(f.read().split()[3].split("/")[0])
        except (OSError, ValueError, IndexError):
            readings = None
            break
        readings.append(max(running - _own_running_threads(), 0))
        if i < 2:
            time.sleep(0.002)
    if readings:
        return sum(readings) / len(readings)
    try:
        return max(os.getloadavg()[0] - 1.0, 0.0)
    except (AttributeError, OSError):
        return 0.0


def _automatic() -> int:
    """One thread per core that other programs leave free (at least one)."""
    cores = cpu_count()
    return max(1, min(cores, int(cores - other_running() + 0.5)))


_last_check = -1e9


def adapt(min_interval: float = 0.0) -> int:
    """Apply the automatic thread count now, unless the user or the environment set one;
    ``min_interval``: seconds within which a second call keeps the last choice. Returns the
    count in use."""
    global _last_check
    fixed = _requested if _requested is not None else _from_environment()
    if fixed is None and _count is not None and time.monotonic() - _last_check < min_interval:
        return _count
    _last_check = time.monotonic()
    n = fixed if fixed is not None else _automatic()
    if n != _count:
        _apply(n)
    return n
