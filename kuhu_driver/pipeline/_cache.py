"""On-disk, content-addressed cache of synthesized audio, bounded in size (LRU).

Layout: ``<cache dir>/kuhu-audio-v2/<2 hex>/<64 hex>``, with a ``CACHEDIR.TAG`` in
``kuhu-audio-v2``. The cache only ever reads, replaces or deletes files inside that
folder whose name is a cache key and whose content starts with our magic, so pointing
``KUHU_CACHE_DIR`` at a folder that holds other files can never cost one of them.

Each entry carries a SHA-256 over its header and audio: a truncated, altered or
bit-flipped entry is discarded (with one warning) and fetched again, never played.

Other users of the machine: the folders are created ``0700`` (what was spoken is nobody
else's business), and the cache steps aside, with one warning, rather than use a folder
that another user made first or may write (they could plant entries to be played).
Entries are read never through a link and never past their length (``read_entry``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from .._files import replace
from .._model import Audio, Request
from .._open import create_new, open_regular
from .._private import adopt_private, check_parents, make_private_dirs
from ._store import MAGIC, header, is_ours, read_file

logger = logging.getLogger(__name__)

#: The folder, inside the cache directory, that holds every entry.
CACHE_FOLDER = "kuhu-audio-v2"
_KEY = re.compile(r"[0-9a-f]{64}")
_SUB = re.compile(r"[0-9a-f]{2}")
_TMP_PREFIX = ".tmp-"
_STALE_TMP_SECONDS = 3600
#: How often the size is counted again from disk, since other processes add to it.
RESCAN_SECONDS = 2.0
_TAG = (
    "Signature: 8a477f597d28d172789f06886806bc55\n"
    "# This folder is kuhu_driver's audio cache (https://bford.info/cachedir/).\n"
    "# Everything in it can be deleted; it is fetched again when needed.\n"
)


class AudioCache:
    """Audio by a hash of everything that changes it; least recently used goes first.

    Writes are atomic (a temporary file renamed into place) and entries are checked on
    every read. If the folder cannot be used (read-only, full, a file where a folder
    should be), the cache steps aside with one warning and speech goes on without it.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        max_bytes: int,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if max_bytes < 0:
            raise ValueError("max_bytes must be >= 0")
        #: Wall-clock seconds: when an entry was last used is kept as its file's time.
        self._clock = clock
        self.directory = Path(directory)
        self.root = self.directory / CACHE_FOLDER
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._size: int | None = None
        self._scanned = 0.0
        self._ready = False
        self._root_ok = False
        #: Why the cache stepped aside, or None while it works.
        self.disabled: str | None = None
        #: Why nothing new is written (entries are still read), or None.
        self.read_only: str | None = None
        self.hits = 0
        self.misses = 0
        self.discarded = 0

    def __repr__(self) -> str:
        return f"AudioCache({str(self.directory)!r}, max_bytes={self.max_bytes})"

    @staticmethod
    def key(endpoint: str, req: Request) -> str:
        return req.cache_key(endpoint)

    def _path(self, key: str) -> Path:
        if not _KEY.fullmatch(key):
            raise ValueError("a cache key is 64 lowercase hex digits")
        return self.root / key[:2] / key

    def _step_aside(self, exc: OSError) -> None:
        with self._lock:
            if self.disabled is not None:
                return
            self.disabled = f"{exc.strerror or exc}"
            told = self.read_only is not None
        if not told:
            logger.warning(
                "the audio cache in %s cannot be used (%s); going on without it",
                self.root,
                self.disabled,
            )

    def _stop_writing(self, exc: OSError) -> None:
        """Writing failed (a read-only or full disk): entries already there are still
        played; new ones are not kept."""
        with self._lock:
            if self.read_only is not None or self.disabled is not None:
                return
            self.read_only = f"{exc.strerror or exc}"
        logger.warning(
            "the audio cache in %s cannot be used for new audio (%s); what it holds is "
            "still played",
            self.root,
            self.read_only,
        )

    def get(self, key: str) -> Audio | None:
        path = self._path(key)
        if self.disabled is not None or not self._trusted():
            self.misses += 1
            return None
        try:
            with open_regular(path) as f:
                head, audio = read_file(f)
        except FileNotFoundError:
            self.misses += 1
            return None
        except OSError as exc:
            if not isinstance(exc, (NotADirectoryError, IsADirectoryError, PermissionError)):
                self._step_aside(exc)
            self.misses += 1
            return None
        if audio is None:
            self._discard(path, head)
            self.misses += 1
            return None
        self._touch(path)  # recently used
        self.hits += 1
        return audio

    def _touch(self, path: Path) -> None:
        now = self._clock()
        with contextlib.suppress(OSError):
            os.utime(path, (now, now))

    def _discard(self, path: Path, head: bytes) -> None:
        self.discarded += 1
        logger.warning("discarded a damaged audio cache entry (%s); fetching it again", path.name)
        if head.startswith(MAGIC):  # ours: safe to remove
            with contextlib.suppress(OSError):
                path.unlink()

    def put(self, key: str, audio: Audio) -> None:
        if self.max_bytes == 0 or self.disabled is not None or self.read_only is not None:
            return
        path = self._path(key)
        head = header(audio)
        try:
            self._prepare()
            if not self._trusted():
                return
            _private_sub(path.parent)
            if path.exists() and not is_ours(path):
                logger.warning("left alone a file that is not a cache entry: %s", path)
                return
            import tempfile  # on first write: not at pyttsx3.init

            fd, tmp = tempfile.mkstemp(prefix=_TMP_PREFIX, dir=path.parent)
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(head)
                    f.write(audio.data)
                try:
                    replace(Path(tmp), path, patience=0.5)
                except PermissionError:
                    # Windows: another process is reading this very entry. It holds the
                    # same audio; this copy is dropped, and the cache goes on.
                    Path(tmp).unlink(missing_ok=True)
                    logger.debug("cache entry %s is in use elsewhere; not replaced", path.name)
                    return
                self._touch(path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            # A cache that cannot be written must never stop speech.
            if isinstance(exc, (NotADirectoryError, FileExistsError)):
                self._step_aside(exc)  # not a folder of ours at all
            else:
                self._stop_writing(exc)
            return
        with self._lock:
            if self._size is not None:
                self._size += len(head) + len(audio.data)
            try:
                self._evict()
            except OSError as exc:
                self._step_aside(exc)

    def _prepare(self) -> None:
        """Create our folder (``0700``, and any parent we make) and its tag, once."""
        if self._ready:
            return
        make_private_dirs(self.root)
        if not self._trusted():
            return
        tag = self.root / "CACHEDIR.TAG"
        with contextlib.suppress(FileExistsError), os.fdopen(create_new(tag), "wb") as f:
            f.write(_TAG.encode("ascii"))  # a tag there already (or a link) is left alone
        self._ready = True

    def _trusted(self) -> bool:
        """Whether our folder may be used: no folder yet, or a real folder of this
        user's that nobody else may write (checked once; made ``0700`` if it was
        readable by others). Otherwise the cache steps aside."""
        if self._root_ok:
            return True
        try:
            st = self.root.lstat()
        except FileNotFoundError:
            return True  # nothing to read; _prepare makes it ours
        except OSError as exc:
            self._step_aside(exc)
            return False
        try:
            check_parents(self.root)  # entries are reached by path, not by a descriptor
            adopt_private(self.root, st)
        except OSError as exc:  # UnsafeFolderError, or a chmod refused
            self._step_aside(exc)
            return False
        self._root_ok = True
        return True

    def _entries(self) -> Iterator[tuple[Path, os.stat_result]]:
        """Our entries, and stale temporary files of ours removed on the way."""
        if not self.root.is_dir():
            return
        now = self._clock()
        for sub in self.root.iterdir():
            if not _SUB.fullmatch(sub.name) or not sub.is_dir() or sub.is_symlink():
                continue
            for entry in sub.iterdir():
                try:
                    st = entry.lstat()
                except OSError:
                    continue
                if not entry.is_file() or entry.is_symlink():
                    continue
                if entry.name.startswith(_TMP_PREFIX):
                    # Only a temporary file of ours: a user's ".tmp-notes" is left alone.
                    if now - st.st_mtime > _STALE_TMP_SECONDS and is_ours(entry):
                        entry.unlink(missing_ok=True)
                    continue
                if _KEY.fullmatch(entry.name) and entry.name[:2] == sub.name:
                    yield entry, st

    def _evict(self) -> None:
        # Other processes write here too: count again now and then, not only when our
        # own estimate says the bound is passed.
        stale = abs(self._clock() - self._scanned) > RESCAN_SECONDS
        if self._size is not None and self._size <= self.max_bytes and not stale:
            return
        entries = sorted((st.st_mtime, st.st_size, path) for path, st in self._entries())
        total = sum(size for _, size, _ in entries)
        for _, size, entry in entries:
            if total <= self.max_bytes:
                break
            if not is_ours(entry):
                continue  # a key-like name, but not our content: never touched
            try:
                entry.unlink()
                total -= size
            except FileNotFoundError:
                total -= size  # another process evicted it
            except OSError:
                pass
        self._size = total
        self._scanned = self._clock()

    def size(self) -> int:
        """Bytes stored now."""
        return sum(st.st_size for _, st in self._entries())


def _private_sub(folder: Path) -> None:
    """Make (``0700``) or check one of the two-hex-digit folders under our own."""
    with contextlib.suppress(FileExistsError):
        folder.mkdir(mode=0o700)
    adopt_private(folder, folder.lstat())
