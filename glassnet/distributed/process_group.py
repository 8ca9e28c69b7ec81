"""The process group: which process this is (rank), how many there are (world size), and MPI.

``init_process_group("mpi")`` joins the job that ``mpiexec -n N python script.py`` started:
every process runs the same script, MPI numbers them 0..N-1, and the collectives in
:mod:`glassnet.distributed.collectives` move arrays between them. mpi4py is imported here
and only here, on first use, so ``import glassnet`` never needs MPI.

A rank that raises would leave the others waiting forever inside a collective, so
``init_process_group`` installs an exception hook that prints the error with the rank's
number and then aborts the whole job (``MPI_Abort``), as ``python -m mpi4py`` does.
"""
from __future__ import annotations

import os
import socket
import sys
import time
import traceback

_world = None          # the MPI communicator once initialised (COMM_WORLD), else None
_previous_excepthook = None

BACKENDS = ("mpi",)


def _mpi():
    """mpi4py's MPI module (initialises MPI on first import), or a clear error."""
    try:
        from mpi4py import MPI
    except ImportError as error:
        raise RuntimeError(
            "glassnet.distributed needs mpi4py and an MPI library: pip install 'glassnet[mpi]' "
            f"(mpi4py with MPICH from the package index), or mpi4py over your system's MPI ({error})") from None
    return MPI


def launcher_rank() -> str:
    """This process's rank as the launcher announced it, for errors raised before init (or '?')."""
    for key in ("PMI_RANK", "OMPI_COMM_WORLD_RANK", "PMIX_RANK", "MPI_LOCALRANKID"):
        if key in os.environ:
            return os.environ[key]
    return "?"


def init_process_group(backend: str = "mpi", init_method=None, world_size: int = -1, rank: int = -1,
                       timeout=None, **kwargs) -> None:
    """Join the job of processes started by ``mpiexec`` (torch's name and arguments).

    Args:
        backend: ``"mpi"``, the only one: the launcher already decided ranks and world size.
        init_method, world_size, rank: accepted as torch does; with MPI they must agree with
            what ``mpiexec`` set up (-1 / None: take them from MPI).
        timeout: accepted for torch compatibility; a failing rank aborts the job instead (see module doc).
    """
    global _world, _previous_excepthook
    if backend is None:
        backend = "mpi"
    if str(backend).lower() not in BACKENDS:
        raise ValueError(f"init_process_group: backend {backend!r} is not available in glassnet; "
                         f"expected one of {BACKENDS} (processes started with mpiexec)")
    if _world is not None:
        raise RuntimeError(f"init_process_group: rank {_world.Get_rank()} is already in a process group; "
                           f"call destroy_process_group() first")
    MPI = _mpi()
    world = MPI.COMM_WORLD
    for name, asked, actual in (("world_size", world_size, world.Get_size()), ("rank", rank, world.Get_rank())):
        if asked not in (-1, None) and asked != actual:
            raise ValueError(f"init_process_group: {name}={asked} was asked for, but mpiexec started this "
                             f"process as {name} {actual} (rank {world.Get_rank()} of {world.Get_size()})")
    _world = world
    if world.Get_size() > 1:
        if _previous_excepthook is None:
            _previous_excepthook = sys.excepthook
            sys.excepthook = _abort_on_uncaught
        _announce_ranks(world)


def _announce_ranks(world) -> None:
    """Rank 0 prints which process is which rank: a rank killed outright (SIGKILL, out of memory)
    cannot say so itself, and MPICH's mpiexec names only the dead process's PID."""
    here = (socket.gethostname(), os.getpid())
    everyone = world.allgather(here)
    if world.Get_rank() == 0:
        ranks = ", ".join(f"rank {r} = pid {pid} on {host}" for r, (host, pid) in enumerate(everyone))
        sys.stderr.write(f"glassnet.distributed: {len(everyone)} ranks: {ranks}\n")
        sys.stderr.flush()


def _abort_on_uncaught(kind, value, tb) -> None:
    """Print the error as this rank's, then end every rank of the job (no rank is left waiting)."""
    world = _world
    rank, size = (world.Get_rank(), world.Get_size()) if world is not None else (launcher_rank(), "?")
    text = "".join(traceback.format_exception(kind, value, tb))
    sys.stderr.write(f"glassnet.distributed: rank {rank} of {size} failed; aborting the job\n{text}")
    sys.stderr.flush()
    if world is not None and kind is not KeyboardInterrupt:
        # the text sits in the pipe to mpiexec, which forwards it when it next reads; MPI_Abort
        # makes mpiexec tear the job down at once, and MPICH's sometimes dropped this rank's
        # last lines (2 of about 30 runs of the test here): give it a moment to read them first
        time.sleep(0.3)
        world.Abort(1)
    (_previous_excepthook or sys.__excepthook__)(kind, value, tb)


def is_available() -> bool:
    """Whether mpi4py can be imported (without initialising anything else)."""
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        return False
    return True


def is_initialized() -> bool:
    return _world is not None


def _require(who: str):
    if _world is None:
        raise RuntimeError(f"{who}: the default process group has not been initialized on this process "
                           f"(launcher rank {launcher_rank()}): call gn.distributed.init_process_group('mpi') first")
    return _world


def get_rank(group=None) -> int:
    """This process's number, 0..world_size-1 (an error before ``init_process_group``, as torch)."""
    return _require("get_rank").Get_rank()


def get_world_size(group=None) -> int:
    return _require("get_world_size").Get_size()


def destroy_process_group(group=None) -> None:
    """Leave the process group (MPI itself is finalised by mpi4py when Python exits)."""
    global _world, _previous_excepthook
    if _previous_excepthook is not None:
        sys.excepthook = _previous_excepthook
        _previous_excepthook = None
    _world = None


def world():
    """The communicator, for glassnet's own modules (DDP, SyncBatchNorm)."""
    return _require("glassnet.distributed")
