"""How many requests begin per second: within a process, and across every process of the
machine that uses the same key and endpoint."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import os
import struct
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from .. import _filelock

logger = logging.getLogger(__name__)

#: The API allows 20 a second; see RateLimiter for why we start at most 18.5.
PER_SECOND = 18.5


class RateLimiter:
    """Requests begin at most ``per_second`` times a second, evenly spaced.

    The API allows 20 per second. Starts 1/18.5 s apart put at most 19 in any one-second
    window, and the server would see 21 only if travel times differed by more than two
    spacings (about 108 ms). Bursts would be faster for a moment, but one late request
    from a burst is enough to break the limit; even spacing keeps 92.5% of the allowed
    rate with a margin that holds under load. Slots are handed out first come, first
    served.
    """

    def __init__(
        self, per_second: float = PER_SECOND, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if not per_second > 0:
            raise ValueError("per_second must be > 0")
        self.per_second = per_second
        self.interval = 1.0 / per_second
        self._clock = clock
        self._next = 0.0
        self._lock = threading.Lock()

    def _update(self, change: Callable[[float, float], tuple[float, float]]) -> float:
        """Apply ``change(now, next) -> (result, new next)`` atomically; return result."""
        with self._lock:
            result, self._next = change(self._clock(), self._next)
        return result

    def _slot(self, now: float, nxt: float) -> tuple[float, float]:
        slot = max(now, nxt)
        return slot, slot + self.interval

    def pause(self, seconds: float) -> None:
        """No request begins for ``seconds``: the server said too many (429)."""
        self._update(lambda now, nxt: (0.0, max(nxt, now + seconds)))

    def acquire(self, cancel: threading.Event | None = None) -> bool:
        """Wait for this request's slot; return False if ``cancel`` was set first."""
        slot = self._update(self._slot)
        wait = slot - self._clock()
        if wait <= 0:
            return True
        if cancel is not None:
            return not cancel.wait(wait)
        time.sleep(wait)
        return True


#: Longest wait for the machine-wide lock, held by others for microseconds: a process
#: stopped while holding it must not stall every other program with the same key.
LOCK_WAIT = 1.0
#: A "next slot" further ahead than this is stale (left from before a reboot, when the
#: monotonic clock started again): even 100 queued processes plus a 10 s pause stay under.
_MAX_AHEAD = 60.0
_STATE = struct.Struct("<d")


class MachineLimiter(RateLimiter):
    """A :class:`RateLimiter` shared by every process on the machine through a small
    state file: the time of the next free slot, read and moved on under an exclusive
    file lock held for a few microseconds. The kernel drops the lock of a process that
    dies, so a killed process never blocks the others; a slot it took is lost, no more.
    Slots are taken in the order the lock is granted, so equal jobs share fairly.

    The time is ``time.monotonic()``, which every process of a machine shares (Linux
    ``CLOCK_MONOTONIC``, macOS ``mach_absolute_time``, Windows ``QueryPerformanceCounter``
    or ``GetTickCount64`` by CPython version: the file is shared only by processes whose
    clock is the same one, see ``shared_limiter``).
    If the file cannot be used, this process keeps its own limit (one warning).
    """

    def __init__(self, path: Path | Callable[[], Path], per_second: float = PER_SECOND) -> None:
        super().__init__(per_second)
        # A callable is asked on first use: finding the folder (tempfile) is not paid
        # by pyttsx3.init("kuhu").
        self._where = path
        self._fd: int | None = None
        self._broken = False

    @property
    def path(self) -> Path:
        if callable(self._where):
            self._where = self._where()
        return self._where

    def _open(self) -> int:
        if self._fd is None:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            check_private(self.path.parent)
            if not self.path.exists():
                _prune(self.path.parent)
            flags = (
                os.O_RDWR | os.O_CREAT | getattr(os, "O_BINARY", 0) | getattr(os, "O_NOFOLLOW", 0)
            )
            fd = os.open(self.path, flags, 0o600)
            try:
                check_private(self.path, os.fstat(fd))
            except OSError:
                os.close(fd)
                raise
            self._fd = fd
        return self._fd

    def _update(self, change: Callable[[float, float], tuple[float, float]]) -> float:
        if self._broken:
            return super()._update(change)
        with self._lock:  # threads of this process share one descriptor: lock them first
            try:
                fd = self._open()
                with _filelock.hold(fd, timeout=LOCK_WAIT):
                    os.lseek(fd, 0, os.SEEK_SET)
                    raw = os.read(fd, _STATE.size)
                    now = self._clock()
                    nxt = _STATE.unpack(raw)[0] if len(raw) == _STATE.size else 0.0
                    if not math.isfinite(nxt) or nxt > now + _MAX_AHEAD:
                        nxt = 0.0
                    result, new = change(now, nxt)
                    os.lseek(fd, 0, os.SEEK_SET)
                    os.write(fd, _STATE.pack(new))
                    return result
            except OSError as exc:
                self._broken = True
                logger.warning(
                    "cannot share the rate limit with other processes (%s: %s); this "
                    "process keeps its own",
                    self.path,
                    exc.strerror or exc,
                )
        return super()._update(change)

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None


def check_private(path: Path, st: os.stat_result | None = None) -> None:
    """Raise :class:`PermissionError` unless ``path`` belongs to this user and no one
    else may write it (another local user could otherwise hold our lock, or book our
    slots a minute ahead). POSIX only: Windows has no such owner to compare."""
    if sys.platform == "win32":
        return
    st = st if st is not None else path.lstat()
    if st.st_uid != os.getuid() or st.st_mode & 0o022:
        raise PermissionError(
            f"{path} belongs to another user or others may write it; not using it"
        )


def _prune(folder: Path) -> None:
    """Remove state files nobody has used for a day (keys long gone)."""
    cutoff = time.time() - 86400
    for old in folder.glob("rate-*"):
        with contextlib.suppress(OSError):
            if old.stat().st_mtime < cutoff:
                old.unlink()


def runtime_dir() -> Path:
    """A private folder for this user's machine-wide state (not kept across reboots where
    the platform has such a place). On Windows, in the user's own profile
    (``%LOCALAPPDATA%``, private by its ACL): ``%TEMP%`` may be shared, and there is no
    owner to check, so another user could book our slots a minute ahead."""
    if sys.platform == "win32":
        local = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
        return Path(local) / "kuhu_driver" / "State"
    base = os.environ.get("XDG_RUNTIME_DIR")
    if base and Path(base).is_dir() and os.access(base, os.W_OK):
        return Path(base) / "kuhu_driver"
    uid = os.getuid() if hasattr(os, "getuid") else "user"
    import tempfile

    return Path(tempfile.gettempdir()) / f"kuhu_driver-{uid}"


_local = RateLimiter()
_machine: dict[str, MachineLimiter] = {}
_machine_lock = threading.Lock()


def shared_limiter(key: str = "", endpoint: str = "") -> RateLimiter:
    """The limiter for requests with this key to this endpoint: one per machine (shared
    by its processes through a file named by a hash of both). Without a key, the one
    every client of this process shares."""
    if not key:
        return _local
    # Only processes that read the same clock may share a file: on Windows, CPython
    # 3.10-3.12 read GetTickCount64 and 3.13 QueryPerformanceCounter, whose readings
    # differ by an offset (a process behind would wait it out, up to a minute).
    clock = time.get_clock_info("monotonic").implementation
    name = hashlib.sha256(f"{endpoint}\0{key}\0{clock}".encode()).hexdigest()[:32]
    with _machine_lock:
        limiter = _machine.get(name)
        if limiter is None:
            limiter = _machine[name] = MachineLimiter(lambda: runtime_dir() / f"rate-{name}")
        return limiter
