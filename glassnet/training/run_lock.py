"""One training per run directory: a lock file holding the owner's process id.

Two trainings writing checkpoints into one directory race (the last to save wins, and a
resumed run may read the other's half-finished history). ``RunLock`` creates
``DIR/train.lock`` exclusively (``O_CREAT | O_EXCL``: of two processes, exactly one
succeeds) and writes its PID and host into it; it removes the file when training ends.
A lock whose process no longer exists on this host (killed with SIGKILL, power loss) is
stale: it is taken over, and the takeover is reported.
"""
from __future__ import annotations

import os
import pathlib
import socket

LOCK_NAME = "train.lock"


class RunLockedError(RuntimeError):
    """Another live training holds the run directory's lock."""


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)             # signal 0: only checks that the process exists
    except ProcessLookupError:
        return False
    except PermissionError:         # it exists, under another user
        return True
    except OSError:
        return False
    return True


class RunLock:
    """``with RunLock(directory, log):`` holds ``directory/train.lock`` for the block."""

    def __init__(self, directory, log=print):
        self.path = pathlib.Path(directory) / LOCK_NAME
        self.log = log
        self.held = False

    def _owner(self):
        """(pid, host) written in the lock file, or None when it is unreadable."""
        try:
            fields = self.path.read_text().split()
            return int(fields[0]), (fields[1] if len(fields) > 1 else socket.gethostname())
        except (OSError, ValueError, IndexError):
            return None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(2):                      # the second try follows the removal of a stale lock
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                owner = self._owner()
                if owner is None:
                    stale = "an unreadable lock file"
                else:
                    pid, host = owner
                    if host != socket.gethostname():
                        raise RunLockedError(
                            f"another training (process {pid} on host {host}) is writing to {self.path.parent}; "
                            f"use another directory, or delete {self.path} if that training has ended") from None
                    if pid != os.getpid() and _process_alive(pid):
                        raise RunLockedError(
                            f"another training (process {pid}) is writing to {self.path.parent}: wait for it "
                            f"to finish or stop it, or train into another directory") from None
                    stale = f"a stale lock of process {pid}, which has ended"
                self.log(f"note: {self.path} was {stale}; taking it over")
                try:
                    self.path.unlink()
                except FileNotFoundError:
                    pass
                continue
            with os.fdopen(fd, "w") as f:
                f.write(f"{os.getpid()} {socket.gethostname()}\n")
            self.held = True
            return
        raise RunLockedError(f"could not take the lock {self.path}: another training took it first")

    def release(self) -> None:
        if self.held:
            self.held = False
            try:
                self.path.unlink()
            except FileNotFoundError:
                pass

    def __enter__(self):
        self.acquire()
        return self

    def __exit__(self, *exc):
        self.release()
        return False
