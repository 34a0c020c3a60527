"""An exclusive lock on an open file, held for as long as a step needs it.

The standard library is enough: ``fcntl.flock`` on POSIX, ``msvcrt.locking`` on Windows.
The kernel drops a lock when its process dies, so a killed process never blocks others.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sys
import time
from collections.abc import Iterator


def take(fd: int, *, wait: bool) -> None:
    """Lock ``fd``; without ``wait``, raise OSError if another process holds it."""
    if sys.platform == "win32":  # pragma: no cover - not tested here
        import msvcrt

        os.lseek(fd, 0, os.SEEK_SET)
        while True:
            try:
                msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
                return
            except OSError:
                if not wait:
                    raise
                time.sleep(0.001)  # our locks are held for microseconds
    else:
        import fcntl

        fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)


def busy(exc: OSError) -> bool:
    """Whether ``exc`` from ``take(wait=False)`` means that another process holds the
    lock; other errors (ENOLCK, EOPNOTSUPP on a network file system) mean that this file
    system does not lock at all."""
    return exc.errno in (errno.EAGAIN, errno.EWOULDBLOCK, errno.EACCES, errno.EDEADLK)


def release(fd: int) -> None:
    if sys.platform == "win32":  # pragma: no cover - not tested here
        import msvcrt

        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
    else:
        import fcntl

        fcntl.flock(fd, fcntl.LOCK_UN)


def take_within(fd: int, timeout: float) -> None:
    """Lock ``fd``, waiting at most ``timeout`` seconds; else :class:`TimeoutError`
    (a process stopped, with Ctrl-Z or SIGSTOP, while it held the lock)."""
    deadline = time.monotonic() + timeout
    pause = 0.0005
    while True:
        try:
            take(fd, wait=False)
            return
        except OSError:
            if time.monotonic() >= deadline:
                raise TimeoutError(f"the lock was held for over {timeout:g} s") from None
        time.sleep(pause)
        pause = min(pause * 2, 0.01)


@contextlib.contextmanager
def hold(fd: int, timeout: float | None = None) -> Iterator[None]:
    """Wait for the lock on ``fd`` (at most ``timeout`` seconds, if given), and hold it
    for the ``with`` block."""
    if timeout is None:
        take(fd, wait=True)
    else:
        take_within(fd, timeout)
    try:
        yield
    finally:
        release(fd)
