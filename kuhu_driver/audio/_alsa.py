"""ALSA's own error messages, kept quiet while we open or probe a device.

On a machine without a sound card, ALSA prints a screenful of ``ALSA lib confmisc.c:…``
lines to stderr while a library looks for a device. Our own error says what is wrong
once, in words a user can act on, so ALSA's handler is swapped for one that says nothing
while we open the device, and put back afterwards for the rest of the program.

ctypes is imported on first use, not at import: ``pyttsx3.init("kuhu")`` stays quick.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import Any

_state: dict[str, Any] = {}


def _alsa() -> Any:
    """libasound with a silent error handler ready, or False where there is none."""
    if "lib" not in _state:
        import ctypes
        import ctypes.util

        # snd_lib_error_handler_t: void (*)(const char *file, int line, const char *func,
        # int err, const char *fmt, ...). The caller cleans up a C call's arguments, so a
        # handler that declares only the fixed ones is safe to call with more.
        handler = ctypes.CFUNCTYPE(
            None, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p
        )
        # Kept for the life of the process: ALSA holds the pointer.
        _state["quiet"] = ctypes.cast(handler(lambda *_: None), ctypes.c_void_p)
        _state["keep"] = handler
        lib: Any
        try:
            lib = ctypes.CDLL(ctypes.util.find_library("asound") or "libasound.so.2")
            lib.snd_lib_error_set_handler.argtypes = [ctypes.c_void_p]
        except (OSError, AttributeError):
            lib = False
        _state["lib"] = lib
    return _state["lib"]


def quiet_alsa_ready() -> None:
    """Load libasound and make the silent handler now (nothing is opened or printed)."""
    if sys.platform.startswith("linux"):
        _alsa()


@contextlib.contextmanager
def quiet_alsa() -> Iterator[None]:
    """ALSA says nothing inside this block (Linux only; elsewhere it does nothing)."""
    lib: Any = _alsa() if sys.platform.startswith("linux") else False
    if not lib:
        yield
        return
    lib.snd_lib_error_set_handler(_state["quiet"])
    try:
        yield
    finally:
        lib.snd_lib_error_set_handler(None)  # ALSA's default handler again
