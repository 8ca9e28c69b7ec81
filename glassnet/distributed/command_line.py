"""``glassnet train --distributed``: the command line as one rank of an ``mpiexec`` job.

    mpiexec -n 4 glassnet train --distributed

``join_job()`` starts the process group, sends the standard output of ranks 1.. to
/dev/null (one copy of the log, from rank 0; errors still reach stderr from every rank)
and arms MPI to abort the whole job if this process exits before ``leave_job()``: the
CLI turns errors into a message and exit status 1, and a rank that simply exited would
leave the others waiting forever in their next collective.
"""
from __future__ import annotations

import os
import sys

from .process_group import _mpi, get_rank, init_process_group


def join_job() -> None:
    try:
        init_process_group("mpi")
    except RuntimeError as error:          # no mpi4py: the CLI's two-line error, not a traceback
        raise SystemExit(f"glassnet: error: --distributed: {error}") from None
    MPI = _mpi()
    MPI._set_abort_status(1)              # until leave_job: exiting aborts every rank (mpi4py's mechanism)
    if get_rank() != 0:
        sys.stdout.flush()
        sys.stdout = open(os.devnull, "w")


def leave_job() -> None:
    """The command finished on this rank: exit normally (MPI_Finalize) instead of aborting."""
    _mpi()._set_abort_status(0)
