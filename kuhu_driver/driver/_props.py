"""One engine's properties as pyttsx3 sees them (``getProperty``/``setProperty``): the
voicing of its next utterances (``pipeline.Properties``), the fallback mode, the voices
list and the billed count."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from .._config import FALLBACKS
from .._model import Voicing
from ..api import VOICES
from ..errors import InvalidInputError, KuhuError
from ..pipeline import Properties, Synthesizer

logger = logging.getLogger(__name__)


class EngineProperties:
    """What ``getProperty``/``setProperty`` read and change. A failed set is raised
    (pyttsx3 passes it on) and logged when no ``error`` callback listens."""

    def __init__(
        self, synth: Synthesizer, fallback: str, has_listeners: Callable[[str], bool]
    ) -> None:
        self._synth = synth
        self.props = Properties()
        #: "local" (speech falls back to the platform's voice), "always" (files too), "off".
        self.fallback = fallback
        self._has_listeners = has_listeners

    def voicing(self) -> Voicing:
        return self.props.voicing()

    def get(self, name: str) -> object:
        if name == "voices":
            return [_pyttsx3_voice(v) for v in VOICES]
        if name == "billed_chars":
            return self._synth.client.billed_chars_sent
        if name == "fallback":
            return self.fallback
        if name in ("rate", "volume", "pitch", "voice", "sample_rate", "markup"):
            return getattr(self.props, name)
        return self.props.with_value(name, None)  # raises UnknownPropertyError

    def set(self, name: str, value: object) -> None:
        if name == "fallback":
            self._set_fallback(value)
            return
        try:
            self.props = self.props.with_value(name, value)
        except KuhuError as exc:
            if not self._has_listeners("error"):
                logger.warning("setProperty(%r) failed: %s", name, exc)
            raise

    def _set_fallback(self, value: object) -> None:
        mode = str(value).strip().lower() if isinstance(value, str) else None
        if mode not in FALLBACKS:
            exc = InvalidInputError(
                f"fallback must be one of {', '.join(FALLBACKS)}, not {value!r}"
            )
            if not self._has_listeners("error"):
                logger.warning("setProperty('fallback') failed: %s", exc)
            raise exc
        if mode != "off":
            self._synth.enable_fallback()
        self.fallback = mode

    def falls_back(self, kind: str) -> bool:
        """Whether a task of ``kind`` ("say" or "save") may use the local voice."""
        return self.fallback == "always" or (self.fallback == "local" and kind == "say")


def _pyttsx3_voice(v: Any) -> Any:
    from pyttsx3.voice import Voice

    return Voice(v.id, v.name, list(v.languages), v.gender, v.age)
