"""``kuhu-say``: parses, calls the library, turns a ``KuhuError`` into one line on
stderr and a non-zero exit. ``python -m kuhu_driver`` runs it too. Its own jobs live
here: the setup check (``--check``, ``check_setup``) and batches (``--batch``).

Layer: the top; uses ``pipeline`` (and ``testing`` for ``--emulator``).
"""

from __future__ import annotations

from ._batch import BatchResult, run_batch
from ._check import PROBE_TEXT, CheckReport, Finding, check_setup
from ._main import main
from ._output import list_voices
from ._parser import build_parser

__all__ = [
    "PROBE_TEXT",
    "BatchResult",
    "CheckReport",
    "Finding",
    "build_parser",
    "check_setup",
    "list_voices",
    "main",
    "run_batch",
]
