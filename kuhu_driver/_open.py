"""Opening files another local user could have planted: never through a link, a FIFO
never waited on, a new file only if it did not exist (used by ``_files`` and
``_private``, which says why)."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import BinaryIO

BINARY = getattr(os, "O_BINARY", 0)
NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
CLOEXEC = getattr(os, "O_CLOEXEC", 0)
NONBLOCK = getattr(os, "O_NONBLOCK", 0)


def open_regular(path: str | Path, *, dir_fd: int | None = None) -> BinaryIO:
    """``path`` opened for reading, never through a link, and only if it is a regular
    file (``OSError`` otherwise): ``O_NONBLOCK``, so that a FIFO does not hang us, and a
    device such as ``/dev/zero`` is refused."""
    flags = os.O_RDONLY | NOFOLLOW | NONBLOCK | CLOEXEC | BINARY
    f = os.fdopen(os.open(path, flags, dir_fd=dir_fd), "rb")
    if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
        f.close()
        raise OSError(f"{Path(path).name} is not a regular file")
    return f


def create_new(path: str | Path, mode: int = 0o600, *, dir_fd: int | None = None) -> int:
    """A file that did not exist (``FileExistsError`` otherwise, a link included), for
    writing: its descriptor."""
    flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | NOFOLLOW | CLOEXEC | BINARY
    return os.open(path, flags, mode, dir_fd=dir_fd)
