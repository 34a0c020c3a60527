"""File steps that differ by platform, reasoned about from each platform's documented
behaviour (Windows and macOS are simulated in the tests, not run):

- ``replace``: on Windows, ``os.replace`` fails with ``PermissionError`` while another
  program has the target open (a reader of the same cache entry, an antivirus scan, a
  media player holding the output). It is retried briefly; a caller whose file was paid
  for then keeps it beside the target (``keep_beside``) rather than delete it.
- ``full_sync``: on macOS ``fsync`` does not reach the disk; ``F_FULLFSYNC`` does.
- ``can_create_beside``: ``os.access`` ignores Windows ACLs and Controlled Folder Access and
  macOS privacy-protected folders; creating and removing a file is the real test.
- ``hide``: a leading dot hides a name everywhere but Windows, where the file attribute
  does (Explorer, and the folder views of sync clients, show the rest).
- ``process_running``: Windows has no signal 0; ``OpenProcess`` tells whether a process
  that left a partial file is still there.
"""

from __future__ import annotations

import errno
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

from ._open import create_new

#: How long a replace is retried while another program holds the target.
REPLACE_PATIENCE = 2.0


def replace(
    src: str | Path,
    dst: str | Path,
    *,
    patience: float = REPLACE_PATIENCE,
    sleep: Callable[[float], None] = time.sleep,
    src_dir_fd: int | None = None,
    dst_dir_fd: int | None = None,
) -> None:
    """``src`` renamed over ``dst`` (each relative to its folder's descriptor, if given);
    a ``PermissionError`` (Windows: ``dst`` is open elsewhere, or an antivirus or a sync
    client has it for a moment) is retried for ``patience`` seconds, then raised. Every
    rename of ours goes through here."""
    waited, pause = 0.0, 0.05
    while True:
        try:
            # One name to fake in tests.
            os.replace(src, dst, src_dir_fd=src_dir_fd, dst_dir_fd=dst_dir_fd)
            return
        except PermissionError:
            if waited >= patience:
                raise
        sleep(pause)
        waited += pause
        pause = min(pause * 2, 0.5)


def keep_beside(src: Path, dst: Path) -> Path:
    """Give the finished file ``src`` a visible name beside ``dst`` (``NAME.new.EXT``,
    numbered if taken), for when ``dst`` cannot be replaced; the name it got."""
    for n in range(1, 1000):
        tag = "new" if n == 1 else f"new{n}"
        candidate = dst.with_name(f"{dst.stem}.{tag}{dst.suffix}")
        if not candidate.exists():
            replace(src, candidate)
            return candidate
    raise FileExistsError(f"no free name beside {dst}")


def full_sync(fd: int) -> None:
    """Flush ``fd`` to the disk itself (``F_FULLFSYNC`` on macOS, where fsync does not)."""
    if sys.platform == "darwin":
        import fcntl

        try:
            fcntl.fcntl(fd, fcntl.F_FULLFSYNC)
            return
        except OSError:
            pass  # not supported by this file system: fsync is the best there is
    os.fsync(fd)


def can_create_beside(path: Path) -> OSError | None:
    """None if a file can be created beside ``path`` (tried, under the name a temporary
    file of ``path`` would get, then removed); else why not."""
    try:
        fd, name = temp_beside(path)
    except OSError as exc:
        return exc
    os.close(fd)
    try:
        name.unlink()
    except OSError as exc:
        return exc
    return None


#: Windows' longest path of a file (MAX_PATH, 260, less its NUL) and of a folder
#: (CreateDirectory keeps room for an 8.3 name: 248, less its NUL). Our own files'
#: names are kept within them wherever the output's path is (on every platform: a
#: shorter name costs nothing elsewhere).
MAX_FILE_PATH = 259
MAX_DIR_PATH = 247


def room_beside(path: Path) -> int:
    """How long a name beside ``path`` may be for its path to stay within
    :data:`MAX_FILE_PATH`."""
    return MAX_FILE_PATH - len(str(path.parent.absolute())) - 1


class KeptBeside(PermissionError):
    """``dst`` could not be replaced (open elsewhere); the new file is at ``kept``."""

    def __init__(self, dst: Path, kept: Path) -> None:
        super().__init__(f"{dst} is open in another program; the new file is {kept}")
        self.kept = kept


def install(src: Path, dst: Path, *, patience: float = REPLACE_PATIENCE) -> None:
    """Put the finished, paid-for file ``src`` in place of ``dst``; if another program
    keeps ``dst`` open past ``patience``, keep ``src`` beside it (:class:`KeptBeside`)."""
    try:
        replace(src, dst, patience=patience)
    except PermissionError:
        raise KeptBeside(dst, keep_beside(src, dst)) from None
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        # Another file system (a save kept in the user's folder): copied beside, then in.
        fd, copy = temp_beside(dst)
        with os.fdopen(fd, "wb") as out, src.open("rb") as data:
            copy_into(data, out)
        install(copy, dst, patience=patience)


def copy_into(data: IO[bytes], out: IO[bytes]) -> None:
    """Copy ``data`` into ``out`` a megabyte at a time, and flush it to the disk."""
    import shutil

    shutil.copyfileobj(data, out, 1 << 20)
    out.flush()
    full_sync(out.fileno())


def umask() -> int:
    """The process's umask (reading it means setting it: put back at once)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def temp_tag(path: Path) -> str:
    """``path``'s name as it goes into its temporary file's name: shortened (with a hash,
    so that it stays its own) when long, so that the temporary path stays under
    Windows' 260-character limit wherever the output's does."""
    name = path.name
    if len(name) <= 40:
        return name
    import hashlib

    return f"{name[:24]}~{hashlib.sha256(name.encode('utf-8')).hexdigest()[:8]}"


def temp_beside(path: Path) -> tuple[int, Path]:
    """A new, empty temporary file beside ``path`` (``.NAME.PID-RANDOM.part``; near
    Windows' path limit a name no longer than the room left, ``~RANDOM``), created
    exclusively (never a file or link someone planted), with the mode the finished file
    should have (the user's umask), set on the descriptor: no window in which a swapped
    name gets it. Its descriptor and path; nothing is left behind if this fails."""
    fd, name = _create_beside(path)
    try:
        # Windows before 3.13 has no fchmod, and needs none: its only mode bit is
        # read-only, which mkstemp leaves off.
        if hasattr(os, "fchmod"):
            os.fchmod(fd, 0o666 & ~umask())
    except BaseException:
        os.close(fd)
        name.unlink(missing_ok=True)
        raise
    hide(name)
    return fd, name


def _create_beside(path: Path) -> tuple[int, Path]:
    folder = path.parent or Path()
    usual = f".{temp_tag(path)}.{os.getpid()}-"
    room = room_beside(path)
    if len(usual) + len("12345678.part") <= room:
        import tempfile

        fd, name = tempfile.mkstemp(prefix=usual, suffix=".part", dir=folder)
        return fd, Path(name)
    # As long as the room left, which the output's own name fits in (at least 2).
    import secrets

    length = max(2, min(room, 9))
    for _ in range(100):
        candidate = folder / f"~{secrets.token_hex(4)[: length - 1]}"
        try:
            return create_new(candidate), candidate
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name beside {path}")


#: Windows' ``FILE_ATTRIBUTE_HIDDEN``.
_HIDDEN = 0x2


def hide(path: Path) -> None:
    """On Windows, give ``path`` (a partial file or a save's folder, named with a dot)
    the hidden attribute; elsewhere the dot does it. Best effort: a file system without
    attributes leaves it shown."""
    if sys.platform != "win32":
        return
    import ctypes

    kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined,unused-ignore]
    kernel32.SetFileAttributesW(str(path), _HIDDEN)


def process_running(pid: int) -> bool:
    """Whether process ``pid`` exists (it may be another program, if the number was
    reused); True when that cannot be told."""
    if sys.platform != "win32":
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except OSError:
            return True  # exists, owned by someone else
        return True
    import ctypes

    kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined,unused-ignore]
    query_limited_information, still_active = 0x1000, 259
    handle = kernel32.OpenProcess(query_limited_information, False, pid)
    if not handle:
        return bool(kernel32.GetLastError() != 87)  # ERROR_INVALID_PARAMETER: none such
    try:
        code = ctypes.c_ulong()
        if not kernel32.GetExitCodeProcess(handle, ctypes.byref(code)):
            return True
        return code.value == still_active
    finally:
        kernel32.CloseHandle(handle)


def writer_alive(pid: int, part: Path) -> bool:
    """Whether the process that is writing ``part`` (named with its ``pid``) may still
    be: it exists, and on Windows, where numbers are soon reused, wrote within the hour."""
    if pid == os.getpid():
        return True
    if not process_running(pid):
        return False
    if sys.platform != "win32":
        return True
    try:
        return time.time() - part.stat().st_mtime < 3600
    except OSError:
        return True
