"""Long saves that resume: the pieces of a save, kept with the job until it is done.

A save of more than one piece keeps a hidden folder beside its output,
``.NAME.kuhu-save/``, whatever the cache's setting and size bound:

- each piece is stored there the moment it arrives (any order; atomically, with a
  SHA-256), so a crash loses at most the answers being read;
- ``job`` names the save (a hash of what changes its bytes);
- pieces are appended in order to ``out.part``; ``state.json`` (rewritten atomically)
  records how many were appended and a SHA-256 of each, and the piece's own file goes;
- when all are in, the output appears by one rename and the folder is removed.

Running the same save again (same text, voice, settings, format and endpoint) takes
what is there, checked against its hashes, and requests only the rest. A different
save to the same path starts afresh. An exclusive lock on the folder keeps two
processes from writing one save at once; the kernel drops it if the owner dies.
Folders nobody touched for a week are removed by the next save into that folder.

The folder may sit in a folder other users can write (a shared folder, ``/tmp``): it is
created ``0700``, used only if it is ours and no one else may write it, and every file
in it is reached through its descriptor, never through a link (see ``_private``).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from .. import _filelock
from .._config import default_cache_dir
from .._files import MAX_DIR_PATH, MAX_FILE_PATH, full_sync, hide
from .._model import Audio
from .._private import PrivateDir, UnsafeFolderError, check_private
from ..errors import InvalidInputError
from ._store import header, read_file

logger = logging.getLogger(__name__)

SUFFIX = ".kuhu-save"
_PIECE = re.compile(r"p(\d{5})")
_STALE_SECONDS = 7 * 86400
#: Bounds on what is read back from the folder.
_SMALL = 1 << 20
_PART = "out.part"
_STATE = "state.json"


def save_id(endpoint: str, voicing: object, fmt: str, text: str) -> str:
    """What a save is: everything that changes its bytes."""
    canon = json.dumps([endpoint, repr(voicing), fmt, text], ensure_ascii=False)
    return hashlib.sha256(canon.encode("utf-8")).hexdigest()


#: The longest name made inside a save's folder (a temporary ``state.json``).
_LONGEST_INSIDE = len(".state.json.123456789012.tmp")


def folder_for(path: Path) -> Path:
    """Where the save of ``path`` keeps its pieces: beside it (``.NAME.kuhu-save``);
    or, where that folder or a file in it would pass Windows' path limits although the
    output does not, in the user's cache folder, named from the output's path."""
    beside = path.with_name(f".{path.name}{SUFFIX}")
    full = len(str(beside.absolute()))
    if full <= MAX_DIR_PATH and full + 1 + _LONGEST_INSIDE <= MAX_FILE_PATH:
        return beside
    digest = hashlib.sha256(str(path.absolute()).encode("utf-8")).hexdigest()[:16]
    return default_cache_dir() / "saves" / f".{digest}{SUFFIX}"


class SaveState:
    """The kept pieces of one save. Use as a context manager (it holds the lock)."""

    def __init__(self, path: Path, job: str) -> None:
        self.path = path
        self.job = job
        self.folder = folder_for(path)
        self._dir: PrivateDir | None = None
        self._lock_fd: int | None = None
        #: Stores under way; the lock is dropped only once none is (a fetch that ends
        #: after its save was stopped must not write into a folder another run owns).
        self._storing = threading.Condition()
        self._writers = 0
        #: Pieces appended to ``out.part`` (pieces 0 .. appended-1).
        self.appended = 0
        #: Bytes of ``out.part`` that hold them (after ``start`` placeholder bytes).
        self.size = 0
        self.start = 0
        self._hashes: list[str] = []
        self._ends: list[int] = []

    def __enter__(self) -> SaveState:
        return self.open()

    def open(self) -> SaveState:
        """Take the save's lock and check what an earlier run left; :class:`InvalidInputError`
        if another process is writing the same output."""
        _prune(self.folder.parent)
        try:
            self._dir = PrivateDir(self.folder)
        except UnsafeFolderError as exc:
            raise InvalidInputError(
                f"cannot save to {self.path}: its resume folder {exc}; remove it, or save elsewhere"
            ) from None
        hide(self.folder)
        self._lock()
        self._load()
        return self

    @property
    def dir(self) -> PrivateDir:
        if self._dir is None:
            raise RuntimeError("the save's folder is not open")
        return self._dir

    def __exit__(self, *exc: object) -> None:
        self.release()

    def release(self) -> None:
        with self._storing:
            self._storing.wait_for(lambda: self._writers == 0)
            if self._lock_fd is not None:
                with contextlib.suppress(OSError):
                    _filelock.release(self._lock_fd)  # Windows wants it before the close
                os.close(self._lock_fd)
                self._lock_fd = None
            if self._dir is not None:
                self._dir.close()
                self._dir = None

    # -- opening ---------------------------------------------------------------------
    def _lock(self) -> None:
        fd = self.dir.open("lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            _filelock.take(fd, wait=False)
        except OSError as exc:
            if _filelock.busy(exc):
                os.close(fd)
                raise InvalidInputError(
                    f"another program is writing {self.path} right now; wait for it to finish"
                ) from None
            logger.warning(
                "cannot lock the save of %s (%s: a file system without locks?); going on "
                "without: do not run the same save twice at once",
                self.path.name,
                exc.strerror or exc,
            )
        self._lock_fd = fd

    def _load(self) -> None:
        try:
            job: str | None = self.dir.read("job", _SMALL).decode("ascii")
        except (OSError, ValueError):
            job = None
        if job != self.job:
            self._reset(had=job is not None)
            return
        try:
            state = json.loads(self.dir.read(_STATE, _SMALL * 16).decode("utf-8"))
        except FileNotFoundError:
            return  # pieces kept, none appended yet
        except (OSError, ValueError):
            state = None
        if isinstance(state, dict) and state.get("job") != self.job:
            self._reset(had=True)
            return
        hashes, ends, start = (
            (state.get("hashes"), state.get("ends"), state.get("start", 0))
            if isinstance(state, dict)
            else (None, None, None)
        )
        if not _well_formed(hashes, ends, start):
            logger.warning(
                "the saved progress of %s was damaged: starting that save afresh", self.path.name
            )
            self._reset(had=False)
            return
        assert isinstance(hashes, list) and isinstance(ends, list) and isinstance(start, int)
        # Keep the longest prefix whose bytes are still what was written.
        good = 0
        pos = start
        try:
            with self._part("r+b") as f:
                f.seek(pos)
                for digest, end in zip(hashes, ends, strict=True):
                    data = f.read(int(end) - pos)
                    if len(data) != int(end) - pos or hashlib.sha256(data).hexdigest() != digest:
                        break
                    good += 1
                    pos = int(end)
                f.truncate(pos)
        except OSError:
            self._reset(had=True)
            return
        self.start = start
        self.appended = good
        self.size = pos - self.start
        self._hashes = hashes[:good]
        self._ends = [int(e) for e in ends[:good]]
        if good:
            logger.info("resuming the save of %s: %d pieces already here", self.path.name, good)

    def _reset(self, *, had: bool) -> None:
        if had:
            logger.info("an earlier, different save to %s was left: starting afresh", self.path)
        for name in self.dir.names():
            if name != "lock":
                with contextlib.suppress(OSError):
                    self.dir.unlink(name)
        self.start = 0
        self.appended = 0
        self.size = 0
        self._hashes = []
        self._ends = []
        self.dir.write_atomic("job", self.job.encode("ascii"))

    def _part(self, mode: str) -> IO[bytes]:
        """``out.part``, opened through the folder's descriptor (``r+b``: it must exist;
        ``w+b``: created, or emptied). It becomes the output, so it is created with the
        user's umask like any file we write (the folder itself is private)."""
        flags = os.O_RDWR | (os.O_CREAT | os.O_TRUNC if mode == "w+b" else 0)
        return os.fdopen(self.dir.open(_PART, flags, 0o666), "r+b")

    # -- pieces as they arrive -------------------------------------------------------
    @staticmethod
    def _piece_name(index: int) -> str:
        return f"p{index:05d}"

    def store(self, index: int, audio: Audio) -> bool:
        """Keep an arrived piece (called on the fetching thread); whether it was kept.
        Never raises: a piece that cannot be kept is held by its caller instead."""
        with self._storing:
            if index < self.appended or self._lock_fd is None:
                return False  # appended already, or the save is over (another may own it)
            self._writers += 1
        try:
            return self._store(index, audio)
        finally:
            with self._storing:
                self._writers -= 1
                self._storing.notify_all()

    def _store(self, index: int, audio: Audio) -> bool:
        try:
            self.dir.write_atomic(self._piece_name(index), header(audio), audio.data, sync=True)
        except (OSError, RuntimeError) as exc:
            logger.warning("could not keep a piece of %s for resuming: %s", self.path.name, exc)
            return False
        return True

    def stored(self, index: int) -> Audio | None:
        """A piece kept earlier, if whole; else None (it is fetched again)."""
        try:
            with self.dir.open_regular(self._piece_name(index)) as f:
                audio = read_file(f)[1]
        except OSError:
            return None
        if audio is None:
            logger.warning("a kept piece of %s was damaged: fetching it again", self.path.name)
        return audio

    def kept(self) -> set[int]:
        """Indexes of the pieces kept as files now (not yet appended)."""
        out = set()
        for name in self.dir.names():
            m = _PIECE.fullmatch(name)
            if m is not None:
                out.add(int(m.group(1)))
        return out

    # -- appending in order ----------------------------------------------------------
    def open_part(self, start: int) -> IO[bytes]:
        """``out.part`` positioned after the appended pieces; ``start`` placeholder bytes
        (a WAV header's) are written first on a fresh part."""
        fresh = self.appended == 0
        f = self._part("w+b" if fresh or not self.dir.exists(_PART) else "r+b")
        if fresh:
            f.truncate(0)
            f.write(b"\0" * start)
            self.start = start
        f.seek(self.start + self.size)
        return f

    def appended_pieces(self) -> Iterator[bytes]:
        """The bytes of each piece already in the output, in order."""
        if not self._ends:
            return
        with self._part("r+b") as f:
            f.seek(self.start)
            pos = self.start
            for end in self._ends:
                yield f.read(end - pos)
                pos = end

    def appended_piece(self, f: IO[bytes], index: int, data: bytes) -> None:
        """Record that piece ``index`` (whose bytes were just written to ``f``) is in."""
        assert index == self.appended
        f.flush()
        full_sync(f.fileno())
        self.size += len(data)
        self._hashes.append(hashlib.sha256(data).hexdigest())
        self._ends.append(self.start + self.size)
        self.appended += 1
        state = {"job": self.job, "start": self.start, "hashes": self._hashes, "ends": self._ends}
        self.dir.write_atomic(_STATE, json.dumps(state).encode("utf-8"))
        with contextlib.suppress(OSError):
            self.dir.unlink(self._piece_name(index))

    def finish(self) -> None:
        """The output is complete: move it into place and remove the folder (also when
        another program holds the output: it is then kept beside it, ``KeptBeside``)."""
        folder = self.dir
        try:
            folder.move_out(_PART, self.path)
        except BaseException:
            if not folder.exists(_PART):  # kept beside a held output: nothing to resume
                folder.remove_all()
                self.release()
            raise
        folder.remove_all()  # the part is in place, or was copied there
        self.release()


def _well_formed(hashes: object, ends: object, start: object) -> bool:
    """Whether a state file's fields are what ``appended_piece`` writes: hex digests and
    increasing offsets after a non-negative start."""
    if not (isinstance(hashes, list) and isinstance(ends, list) and len(hashes) == len(ends)):
        return False
    if type(start) is not int or start < 0:
        return False
    last = start
    for digest, end in zip(hashes, ends, strict=True):
        if not (isinstance(digest, str) and len(digest) == 64 and type(end) is int and end > last):
            return False
        last = end
    return all(ch in "0123456789abcdef" for digest in hashes for ch in digest)


def _prune(folder: Path) -> None:
    """Remove save folders nobody has touched for a week (saves never run again)."""
    cutoff = time.time() - _STALE_SECONDS
    for old in _save_folders(folder):
        try:
            check_private(old, old.lstat())  # only our own: never another user's, or a link
            newest = max((e.stat().st_mtime for e in old.iterdir()), default=0.0)
        except OSError:  # UnsafeFolderError included
            continue
        if newest < cutoff:
            import shutil

            shutil.rmtree(old, ignore_errors=True)


def _save_folders(folder: Path) -> Iterator[Path]:
    try:
        yield from (p for p in folder.glob(f".*{SUFFIX}") if p.is_dir())
    except OSError:
        return
