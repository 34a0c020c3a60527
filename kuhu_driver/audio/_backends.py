"""Choosing the playback backend (``KUHU_AUDIO``)."""

from __future__ import annotations

import importlib.util
import logging

from .._config import AUDIO_BACKENDS
from ..errors import ConfigError
from ._miniaudio import MiniaudioPlayer
from ._player import Player
from ._simpleaudio import SimpleaudioPlayer

logger = logging.getLogger(__name__)


def make_player(backend: str = "auto") -> Player:
    """The player for ``backend`` (``KUHU_AUDIO``): miniaudio by default, simpleaudio when
    asked or when miniaudio is not installed."""
    name = backend.strip().lower() or "auto"
    if name not in AUDIO_BACKENDS:
        raise ConfigError(f"KUHU_AUDIO must be one of {', '.join(AUDIO_BACKENDS)}, not {backend!r}")
    if name == "auto":
        if importlib.util.find_spec("miniaudio") is not None:
            return MiniaudioPlayer()
        logger.info("audio: miniaudio is not installed; using simpleaudio")
        return SimpleaudioPlayer()
    return MiniaudioPlayer() if name == "miniaudio" else SimpleaudioPlayer()
