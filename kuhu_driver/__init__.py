"""kuhu_driver: kuhuyun cloud voices (声音合成V2) for pyttsx3, plus ``speak()`` and ``kuhu-say``.

Importing this package is cheap (it is imported at interpreter start by the
``kuhu_driver_hook.pth`` file that lets ``pyttsx3.init("kuhu")`` work): the public names
below load their modules on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

import kuhu_driver_hook

# The error classes are cheap to import (no dependencies) and part of every signature.
from .errors import *  # noqa: F403
from .errors import __all__ as _error_names

kuhu_driver_hook.install()

if TYPE_CHECKING:
    from .check import check_setup
    from .client import KuhuClient
    from .speech import speak
    from .text import Estimate, billed_chars, chunk_text, estimate
    from .voices import VOICES, Voice, find_voice

__version__ = "0.1.0"

_LAZY = {
    "KuhuClient": "client",
    "check_setup": "check",
    "speak": "speech",
    "Estimate": "text",
    "billed_chars": "text",
    "chunk_text": "text",
    "estimate": "text",
    "VOICES": "voices",
    "Voice": "voices",
    "find_voice": "voices",
}

__all__ = [
    "VOICES",
    "Estimate",
    "KuhuClient",
    "Voice",
    "billed_chars",
    "check_setup",
    "chunk_text",
    "estimate",
    "find_voice",
    "speak",
    *_error_names,
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'kuhu_driver' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
