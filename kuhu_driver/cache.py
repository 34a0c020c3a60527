"""On-disk, content-addressed cache of synthesized audio, bounded in size (LRU)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import struct
import tempfile
import threading
import time
from pathlib import Path

from .client import Audio, Request

__all__ = ["AudioCache"]

logger = logging.getLogger(__name__)

_MAGIC = b"KUHU1"
_HEADER = struct.Struct("<5sIQ4s")  # magic, sample rate, data length, format
_STALE_TMP_SECONDS = 3600


class AudioCache:
    """Audio by a hash of everything that changes it; least recently used goes first.

    Writes are atomic (a temporary file renamed into place), so a crash never leaves a
    broken entry; a damaged entry is treated as a miss. Only audio is ever stored.
    """

    def __init__(self, directory: str | os.PathLike[str], max_bytes: int) -> None:
        if max_bytes < 0:
            raise ValueError("max_bytes must be >= 0")
        self.directory = Path(directory)
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._size: int | None = None
        self.hits = 0
        self.misses = 0

    def __repr__(self) -> str:
        return f"AudioCache({str(self.directory)!r}, max_bytes={self.max_bytes})"

    @staticmethod
    def key(endpoint: str, req: Request) -> str:
        canon = json.dumps(
            [
                endpoint,
                req.voice,
                req.text,
                req.format,
                req.sample_rate,
                req.volume,
                req.rate,
                req.pitch,
            ],
            ensure_ascii=False,
        )
        return hashlib.sha256(canon.encode("utf-8")).hexdigest()

    def _path(self, key: str) -> Path:
        return self.directory / key[:2] / key

    def get(self, key: str) -> Audio | None:
        path = self._path(key)
        try:
            raw = path.read_bytes()
        except OSError:
            self.misses += 1
            return None
        if len(raw) < _HEADER.size:
            self.misses += 1
            return None
        magic, rate, length, fmt = _HEADER.unpack_from(raw)
        data = raw[_HEADER.size :]
        if magic != _MAGIC or len(data) != length:
            logger.debug("ignoring a damaged cache entry")
            self.misses += 1
            return None
        with contextlib.suppress(OSError):
            os.utime(path)  # recently used
        self.hits += 1
        return Audio(data=data, format=fmt.rstrip(b"\0").decode("ascii"), sample_rate=rate)

    def put(self, key: str, audio: Audio) -> None:
        if self.max_bytes == 0:
            return
        path = self._path(key)
        header = _HEADER.pack(
            _MAGIC, audio.sample_rate, len(audio.data), audio.format.encode("ascii")
        )
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(header)
                    f.write(audio.data)
                Path(tmp).replace(path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            # A cache that cannot be written must never stop speech.
            logger.warning("could not write the audio cache in %s: %s", self.directory, exc)
            return
        with self._lock:
            if self._size is not None:
                self._size += len(header) + len(audio.data)
            self._evict()

    def _evict(self) -> None:
        if self._size is not None and self._size <= self.max_bytes:
            return
        entries: list[tuple[float, int, Path]] = []
        now = time.time()
        for sub in self.directory.glob("??"):
            for entry in sub.iterdir():
                try:
                    st = entry.stat()
                except OSError:
                    continue
                if entry.name.startswith(".tmp-"):
                    if now - st.st_mtime > _STALE_TMP_SECONDS:
                        entry.unlink(missing_ok=True)
                    continue
                entries.append((st.st_mtime, st.st_size, entry))
        total = sum(size for _, size, _ in entries)
        entries.sort()
        for _, size, entry in entries:
            if total <= self.max_bytes:
                break
            try:
                entry.unlink()
                total -= size
            except OSError:
                pass
        self._size = total

    def size(self) -> int:
        """Bytes stored now."""
        return sum(
            p.stat().st_size for p in self.directory.glob("??/*") if not p.name.startswith(".")
        )
