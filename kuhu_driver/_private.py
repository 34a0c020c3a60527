"""Folders and files of ours that another local user must not be able to turn against us.

Another account on the same machine may have made a folder of ours first (in ``/tmp``,
in a shared folder where we save), or plant a symlink, a FIFO or a huge file where we
read or write. So, on POSIX:

- a folder of ours is created ``0700``; one that exists already is used only if it is a
  real folder (not a symlink), ours, and nobody else may write it (``check_private``);
- it is opened once, as a descriptor, and every file in it is reached relative to that
  descriptor (``dir_fd``) with ``O_NOFOLLOW``: renaming the folder, or replacing it with
  a symlink, after the check changes nothing;
- files are read only if regular (``fstat``), opened ``O_NONBLOCK`` (a FIFO does not
  hang us), and never past a bound; temporaries are created ``O_EXCL``.

On Windows a user's folders (``%LOCALAPPDATA%``, ``%TEMP%``) are private by their ACLs,
and ``os.open`` takes no ``dir_fd``: the same calls work on paths there.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
import sys
from pathlib import Path
from typing import BinaryIO

from ._files import KeptBeside, copy_into, full_sync, install, replace, temp_beside
from ._open import BINARY as _BINARY
from ._open import CLOEXEC as _CLOEXEC
from ._open import NOFOLLOW as _NOFOLLOW
from ._open import create_new, open_regular

_POSIX = sys.platform != "win32"
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)


class UnsafeFolderError(PermissionError):
    """A folder we would use is a symlink, another user's, or writable by others."""


def others_may_write(st: os.stat_result) -> bool:
    """Whether a user other than us may write the file or folder of ``st``: anyone, or
    a group that is not our own (many systems give each user a group of their own, and
    a umask of 002 then makes folders group-writable by that user alone). POSIX only."""
    if sys.platform == "win32":
        return False
    return bool(st.st_mode & 0o002 or (st.st_mode & 0o020 and st.st_gid != os.getgid()))


def check_private(path: Path, st: os.stat_result) -> None:
    """Raise :class:`UnsafeFolderError` unless ``st`` (``path``'s, not followed) is a
    folder of this user's that no one else may write. POSIX only."""
    if sys.platform == "win32":
        return
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode):
        raise UnsafeFolderError(f"{path} is not a folder (a link?); not using it")
    if st.st_uid != os.getuid() or others_may_write(st):
        raise UnsafeFolderError(
            f"{path} belongs to another user or others may write it; not using it"
        )


def check_parents(path: Path) -> None:
    """Raise :class:`UnsafeFolderError` if another user could rename ``path`` (or a
    folder above it) away and put a folder of theirs in its place: a folder above it
    belongs to someone other than us or root, or others may write it and it is not
    sticky (as ``/tmp`` is). For folders reached by path, not by a descriptor. POSIX
    only."""
    if sys.platform == "win32":
        return
    for parent in path.absolute().parents:
        st = parent.stat()
        shared = others_may_write(st) and not st.st_mode & stat.S_ISVTX
        if st.st_uid not in (os.getuid(), 0) or shared:
            raise UnsafeFolderError(
                f"{parent} belongs to another user or others may write it; not using {path}"
            )


def adopt_private(path: Path, st: os.stat_result) -> None:
    """``check_private``, then make the folder ``0700`` if others may read it (an older
    version of ours made ``0755`` folders, whose file names say what was spoken)."""
    check_private(path, st)
    if _POSIX and st.st_mode & 0o077:
        path.chmod(0o700)


def make_private_dirs(path: Path) -> None:
    """Create ``path`` and missing parents ``0700`` (a ``~/.cache`` we make included),
    whatever the umask; existing parents are left as they are."""
    missing = []
    p = path
    while not p.exists() and p != p.parent:
        missing.append(p)
        p = p.parent
    for folder in reversed(missing):
        with contextlib.suppress(FileExistsError):
            folder.mkdir(mode=0o700)


class PrivateDir:
    """One checked folder, open as a descriptor; files in it by name only."""

    def __init__(self, path: Path, *, create: bool = True) -> None:
        self.path = path
        if create:
            make_private_dirs(path)
        self._fd: int | None = None
        if _POSIX:
            try:
                fd = os.open(path, os.O_RDONLY | _DIRECTORY | _NOFOLLOW | _CLOEXEC)
            except (NotADirectoryError, OSError) as exc:
                if exc.errno not in (errno.ELOOP, errno.ENOTDIR):
                    raise
                raise UnsafeFolderError(f"{path} is not a folder (a link?); not using it") from None
            try:
                check_private(path, os.fstat(fd))
            except BaseException:
                os.close(fd)
                raise
            self._fd = fd
        elif not path.is_dir():
            raise NotADirectoryError(f"{path} is not a folder")

    def close(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)

    def __enter__(self) -> PrivateDir:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _where(self, name: str) -> tuple[str, int | None]:
        if "/" in name or "\\" in name or name in ("", ".", ".."):
            raise ValueError(f"not a plain file name: {name!r}")
        if self._fd is not None:
            return name, self._fd
        return str(self.path / name), None

    def open(self, name: str, flags: int, mode: int = 0o600) -> int:
        """``os.open`` of ``name`` in this folder, never through a symlink."""
        where, dir_fd = self._where(name)
        return os.open(where, flags | _NOFOLLOW | _CLOEXEC | _BINARY, mode, dir_fd=dir_fd)

    def open_regular(self, name: str) -> BinaryIO:
        """The regular file ``name`` opened for reading (a FIFO, device or link is an
        ``OSError``)."""
        where, dir_fd = self._where(name)
        return open_regular(where, dir_fd=dir_fd)

    def read(self, name: str, limit: int) -> bytes:
        """The bytes of the regular file ``name`` (a FIFO, device or link is an
        ``OSError``); at most ``limit`` bytes, else :class:`ValueError`."""
        with self.open_regular(name) as f:
            data = f.read(limit + 1)
        if len(data) > limit:
            raise ValueError(f"{name} is larger than {limit} bytes")
        return data

    def create_temp(self, prefix: str) -> tuple[int, str]:
        """A new file ``0600`` with a random name (``O_EXCL``): its descriptor and name."""
        for _ in range(100):
            name = f"{prefix}{secrets.token_hex(6)}.tmp"
            where, dir_fd = self._where(name)
            try:
                return create_new(where, dir_fd=dir_fd), name
            except FileExistsError:
                continue
        raise FileExistsError(f"no free temporary name in {self.path}")

    def write_atomic(self, name: str, *parts: bytes, sync: bool = False) -> None:
        """``name`` replaced at once by a file holding ``parts``, one after the other
        (written in turn: a header and 7 MB of audio are not joined in memory first)."""
        fd, tmp = self.create_temp(f".{name}.")
        try:
            with os.fdopen(fd, "wb") as f:
                for data in parts:
                    f.write(data)
                if sync:
                    f.flush()
                    full_sync(f.fileno())
            self.replace(tmp, name)
        except BaseException:
            self.unlink(tmp)
            raise

    def replace(self, src: str, dst: str) -> None:
        """Rename ``src`` over ``dst``, both in this folder (a rename follows no link)."""
        s, sfd = self._where(src)
        d, dfd = self._where(dst)
        replace(s, d, src_dir_fd=sfd, dst_dir_fd=dfd)

    def move_out(self, name: str, dst: Path) -> None:
        """Put the finished file ``name`` in place of ``dst`` (outside this folder) with
        ``_files.install`` (retried while ``dst`` is open elsewhere, else kept beside
        it). On POSIX it first leaves this folder by a rename from its descriptor, to a
        name beside ``dst`` that no one can guess; if installing fails, it comes back."""
        if self._fd is None:
            install(self.path / name, dst)
            return
        where, dir_fd = self._where(name)
        fd, beside = temp_beside(dst)  # a fresh name, taken by the rename below
        moved = True
        try:
            replace(where, beside, src_dir_fd=dir_fd)
            os.close(fd)
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                os.close(fd)
                beside.unlink(missing_ok=True)
                raise
            moved = False  # another file system (a save kept in the user's folder)
            with os.fdopen(fd, "wb") as out, self.open_regular(name) as data:
                copy_into(data, out)
        try:
            install(beside, dst)
        except BaseException as exc:
            if moved and not isinstance(exc, KeptBeside):
                with contextlib.suppress(OSError):
                    replace(beside, where, dst_dir_fd=dir_fd, patience=0)
            raise

    def unlink(self, name: str) -> None:
        """Remove ``name`` (a link is removed, not what it points to); gone is fine."""
        where, dir_fd = self._where(name)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(where, dir_fd=dir_fd)

    def names(self) -> list[str]:
        return os.listdir(self._fd if self._fd is not None else self.path)  # noqa: PTH208 - a descriptor

    def exists(self, name: str) -> bool:
        where, dir_fd = self._where(name)
        try:
            os.stat(where, dir_fd=dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            return False
        return True

    def remove_all(self) -> None:
        """Remove every file in the folder, then the folder (if it is still this one)."""
        for name in self.names():
            with contextlib.suppress(OSError):
                self.unlink(name)
        if self._fd is not None:
            here = os.fstat(self._fd)
            with contextlib.suppress(OSError):
                there = self.path.lstat()
                if (there.st_dev, there.st_ino) == (here.st_dev, here.st_ino):
                    self.path.rmdir()
        else:
            with contextlib.suppress(OSError):
                self.path.rmdir()
