"""The pyttsx3 driver: ``pyttsx3.init("kuhu")`` imports this module (the entry point
``kuhu_driver.driver`` of the ``pyttsx3.drivers`` group) and calls ``buildDriver``.

Layer: the top; maps pyttsx3's calls onto ``pipeline``, nothing more.
"""

from __future__ import annotations

from ._driver import KuhuDriver, buildDriver
from ._engine import pause, resume, session_of

__all__ = ["KuhuDriver", "buildDriver", "pause", "resume", "session_of"]
