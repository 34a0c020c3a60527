"""Giving freed memory back to the system during a long save.

A long save passes pieces of several megabytes through the fetch threads. glibc's
allocator raises its ``mmap`` threshold after the first such block is freed, so later
ones come from per-thread heaps that keep their freed pages: a 200,000-character save
grew its peak RSS by 56 MB when the pieces alive at once hold about 25 MB. Asking glibc
to release free pages after each written piece (``malloc_trim``, which also returns
free pages inside a heap) keeps the process near what it really holds.

Only on Linux with glibc; elsewhere, and if the call is missing, it does nothing.
ctypes is imported on first use, not by ``pyttsx3.init("kuhu")``.
"""

from __future__ import annotations

import sys
from typing import Any

_state: dict[str, Any] = {}


def _trim() -> Any:
    if "trim" not in _state:
        trim: Any = None
        if sys.platform.startswith("linux"):
            import ctypes

            try:
                trim = ctypes.CDLL(None).malloc_trim  # absent on musl: AttributeError
                trim.argtypes = [ctypes.c_size_t]
                trim.restype = ctypes.c_int
            except (OSError, AttributeError):
                trim = None
        _state["trim"] = trim
    return _state["trim"]


def give_back_free_memory() -> bool:
    """Return the allocator's free pages to the system; whether it could."""
    trim = _trim()
    if trim is None:
        return False
    trim(0)
    return True
