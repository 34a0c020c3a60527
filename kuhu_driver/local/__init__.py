"""The local voice and when it speaks: the platform's own voice (eSpeak NG, or pyttsx3's
platform driver in a helper process) standing in for the cloud, and the circuit breaker
that decides when it does (and probes until the cloud answers again).

Layer: uses ``audio`` (to read the sound files the local voice writes) and the leaves;
used by ``pipeline``.
"""

from __future__ import annotations

from ._breaker import FIRST_PIECE_WAIT, CloudBreaker, falls_back
from ._voice import LocalVoice, helper_python

__all__ = ["FIRST_PIECE_WAIT", "CloudBreaker", "LocalVoice", "falls_back", "helper_python"]
