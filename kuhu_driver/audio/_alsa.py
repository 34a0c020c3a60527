"""ALSA's own error messages, kept quiet while we open or probe a device.

On a machine without a sound card, ALSA prints a screenful of ``ALSA lib confmisc.c:…``
lines to stderr while a library looks for a device. Our own error says what is wrong
once, in words a user can act on, so ALSA's handler is swapped for one that says nothing
while we open the device, and put back afterwards for the rest of the program.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import sys
from collections.abc import Iterator
from typing import Any

# snd_lib_error_handler_t: void (*)(const char *file, int line, const char *function,
# int err, const char *fmt, ...). The caller cleans up a C call's arguments, so a
# handler that declares only the fixed ones is safe to call with more.
_HANDLER = ctypes.CFUNCTYPE(
    None, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p
)


def _ignore(file: bytes, line: int, function: bytes, err: int, fmt: bytes) -> None:
    return None


_QUIET = _HANDLER(_ignore)  # kept for the life of the process: ALSA holds the pointer
_lib: Any = None


def _alsa() -> Any:
    global _lib
    if _lib is None:
        name = ctypes.util.find_library("asound") or "libasound.so.2"
        try:
            _lib = ctypes.CDLL(name)
            _lib.snd_lib_error_set_handler.argtypes = [ctypes.c_void_p]
        except (OSError, AttributeError):
            _lib = False
    return _lib


@contextlib.contextmanager
def quiet_alsa() -> Iterator[None]:
    """ALSA says nothing inside this block (Linux only; elsewhere it does nothing)."""
    lib: Any = _alsa() if sys.platform.startswith("linux") else False
    if not lib:
        yield
        return
    lib.snd_lib_error_set_handler(ctypes.cast(_QUIET, ctypes.c_void_p))
    try:
        yield
    finally:
        lib.snd_lib_error_set_handler(None)  # ALSA's default handler again
