"""``kuhu-say``: parses, calls the library, turns a ``KuhuError`` into one line on
stderr and a non-zero exit. ``python -m kuhu_driver`` runs it too.

Layer: the top; uses ``pipeline`` (and ``testing`` for ``--emulator``).
"""

from __future__ import annotations

from ._main import main
from ._output import list_voices
from ._parser import build_parser

__all__ = ["build_parser", "list_voices", "main"]
