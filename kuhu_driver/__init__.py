"""kuhu_driver: kuhuyun cloud voices (声音合成V2) for pyttsx3, plus ``speak()`` and ``kuhu-say``.

This is the public API: everything a program may import is named in ``__all__`` below,
and everything else lives in private modules (``_name.py``) or in the layers' own
packages (``api``, ``audio``, ``pipeline``, ``driver``, ``cli``, ``testing``).

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

kuhu_driver_hook.install({"kuhu": "kuhu_driver.driver"})  # frozen programs too

if TYPE_CHECKING:
    from ._text import billed_chars
    from .api import VOICES, KuhuClient, Voice, find_voice
    from .cli import check_setup
    from .driver import pause, resume, session_of
    from .pipeline import (
        Estimate,
        Session,
        VoiceArgs,
        chunk_text,
        estimate,
        save,
        speak,
        stream,
    )
    from .pipeline._aio import asave, aspeak, astream

__version__ = "0.1.0"

_LAZY = {
    "KuhuClient": "api",
    "check_setup": "cli",
    "speak": "pipeline",
    "Session": "pipeline",
    "VoiceArgs": "pipeline",
    "session_of": "driver",
    "pause": "driver",
    "resume": "driver",
    "Estimate": "pipeline",
    "billed_chars": "_text",
    "chunk_text": "pipeline",
    "estimate": "pipeline",
    "VOICES": "api",
    "Voice": "api",
    "find_voice": "api",
    "stream": "pipeline",
    "save": "pipeline",
    "astream": "pipeline._aio",
    "aspeak": "pipeline._aio",
    "asave": "pipeline._aio",
}

__all__ = [
    "VOICES",
    "Estimate",
    "KuhuClient",
    "Session",
    "Voice",
    "VoiceArgs",
    "asave",
    "aspeak",
    "astream",
    "billed_chars",
    "check_setup",
    "chunk_text",
    "estimate",
    "find_voice",
    "pause",
    "resume",
    "save",
    "session_of",
    "speak",
    "stream",
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
