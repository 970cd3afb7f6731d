"""One provider process per session: an exclusive lock next to the state file.

Two processes started with the same state file would hold the same session id and both
serve (and heartbeat) the same rows; nothing in the store can tell them apart. So
``provider serve`` takes ``flock(LOCK_EX | LOCK_NB)`` on ``<state file>.lock`` before it
reads the id, and holds it for the life of the process. The kernel drops the lock when
the process ends in any way (kill -9 included), so a stale lock never blocks a restart.
The lock sits on a sibling file, not the state file itself, because the state file is
replaced atomically when it is first written (a lock on the old inode would not count).
The descriptor is not inherited by children (PEP 446), so an upstream command left
running cannot keep it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from dataclasses import dataclass
from pathlib import Path

from mcpctl_tui.store.errors import StoreError


class StateFileLocked(StoreError):
    """Another live process serves this session (same state file)."""


@dataclass(slots=True)
class StateLock:
    path: Path
    fd: int | None

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing the descriptor drops the flock
            self.fd = None


def lock_path(state_path: Path) -> Path:
    return state_path.with_name(state_path.name + ".lock")


def lock_state_file(state_path: Path) -> StateLock:
    """Take the session's lock or raise ``StateFileLocked`` naming the holder's pid."""
    path = lock_path(state_path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise StoreError(f"provider lock file {path} cannot be opened: {exc.strerror}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        holder = ""
        with contextlib.suppress(OSError, ValueError):
            pid = int(os.pread(fd, 32, 0).decode("ascii").strip() or "x")
            holder = f" (pid {pid})"
        os.close(fd)
        raise StateFileLocked(
            f"provider state file {state_path} is in use by another provider process{holder}; "
            "one session is served by one process: stop it, or give this one its own "
            "session.stateFile (--state-file)"
        ) from None
    # Who holds it, for the next one's message (advisory: the flock is what counts).
    with contextlib.suppress(OSError):
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return StateLock(path, fd)
