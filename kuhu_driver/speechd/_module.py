"""``sd_kuhu``: the command loop of the Speech Dispatcher module.

The server starts it once (``sd_kuhu CONFIG``) and keeps it: one synthesizer (its
connection kept ready, the cache, the rate limit, the breaker and the local voice) for
every message of every program, so first sound is the server's time plus a few ms.
INIT is answered at once and the synthesizer made in the background; every command gets
its reply, every message exactly one END, STOP or PAUSE; nothing but the protocol is
written on stdout. The module ends when the server does (its stdin closes) or on QUIT.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable

from .._config import speech_settings
from ..errors import KuhuError
from ..pipeline import Synthesizer
from ._settings import SpeechdSettings, voice_lines
from ._speaker import Message, Speaker
from ._wire import Wire

logger = logging.getLogger("kuhu_driver.speechd")

_MESSAGES = ("SPEAK", "CHAR", "KEY", "SOUND_ICON")
_LEVELS = {0: logging.ERROR, 1: logging.WARNING, 2: logging.INFO}


class Module:
    """The module's state between commands: settings, the synthesizer, the speaker."""

    def __init__(self, wire: Wire) -> None:
        self.wire = wire
        self.settings = SpeechdSettings()
        self._synth: Synthesizer | None = None
        self._ready = threading.Event()
        self.speaker = Speaker(wire, self.synthesizer)

    def synthesizer(self) -> Synthesizer:
        """The one synthesizer, once INIT's thread made it (waited for, the first time)."""
        self._ready.wait()
        if self._synth is None:
            raise KuhuError("the module could not start its synthesizer (see its log)")
        return self._synth

    def _make_synthesizer(self) -> None:
        try:
            self._start_synthesizer()
        except Exception:  # logged; each message then ends at once, never hangs
            logger.exception("kuhu: could not start")
        finally:
            self._ready.set()
        if self._synth is not None:
            self._synth.warm_up(now=True)  # a connection opened before the first message

    def _start_synthesizer(self) -> None:
        try:
            settings = speech_settings(fallback="local")
        except KuhuError as exc:  # a bad KUHU_* setting: say so once, speak anyway
            logger.error("kuhu: %s; the local voice speaks until it is fixed", exc)
            settings = speech_settings(api_key="", fallback="local", env={})
        if not settings.api_key:
            logger.error(
                "kuhu: no API key (store it once with kuhu-say --set-key, or set "
                "KUHU_API_KEY for the server): the local voice speaks every message"
            )
        else:
            logger.info("kuhu: the key comes from %s", settings.key_source)
        self._synth = Synthesizer.from_settings(settings)

    def run(self) -> None:
        while True:
            line = self.wire.line()
            if line is None or not self.command(line):
                break
        self.speaker.stop()
        if self._synth is not None:
            self._synth.close()

    def command(self, line: str) -> bool:
        """Obey one command line; False when the module is to end."""
        word = line.strip().upper()
        if word == "INIT":
            threading.Thread(
                target=self._make_synthesizer, name="kuhu-speechd-init", daemon=True
            ).start()
            self.wire.reply(299, "OK LOADED SUCCESSFULLY", ["kuhu: kuhuyun cloud voices"])
        elif word in _MESSAGES:
            return self._message(word)
        elif word == "STOP":
            self.speaker.stop()
        elif word == "PAUSE":
            self.speaker.pause()
        elif word == "SET":
            return self._block(203, "OK RECEIVING SETTINGS", "OK SETTINGS RECEIVED", self._set)
        elif word == "AUDIO":
            return self._block(207, "OK RECEIVING AUDIO SETTINGS", "OK AUDIO INITIALIZED", None)
        elif word == "LOGLEVEL":
            return self._block(207, "OK RECEIVING LOGLEVEL SETTINGS", "OK LOGLEVEL SET", _level)
        elif word == "LIST VOICES":
            self.wire.reply(200, "OK VOICE LIST SENT", voice_lines())
        elif word.startswith("DEBUG"):
            self.wire.reply(200, "OK DEBUGGING ON" if "ON" in word else "OK DEBUGGING OFF")
        elif word == "QUIT":
            self.wire.reply(210, "OK QUIT")
            return False
        else:
            self.wire.reply(300, "ERR UNKNOWN COMMAND")
        return True

    def _block(
        self,
        first: int,
        receiving: str,
        done: str,
        use: Callable[[list[str]], None] | None,
    ) -> bool:
        """A command followed by a block of lines: its two replies; False at the end of
        input."""
        self.wire.reply(first, receiving)
        lines = self.wire.block()
        if lines is None:
            return False
        if use is not None:
            use(lines)
        self.wire.reply(203, done)
        return True

    def _set(self, lines: list[str]) -> None:
        self.settings = self.settings.updated(lines)

    def _message(self, kind: str) -> bool:
        self.wire.reply(202, "OK RECEIVING MESSAGE")
        lines = self.wire.block()
        if lines is None:
            return False
        self.wire.reply(200, "OK SPEAKING")
        self.speaker.begin(Message(kind, "\n".join(lines), self.settings))
        return True


def _level(lines: list[str]) -> None:
    for line in lines:
        key, _, value = line.partition("=")
        if key.strip() == "log_level" and value.strip().isdigit():
            logging.getLogger("kuhu_driver").setLevel(_LEVELS.get(int(value), logging.DEBUG))


class _OncePerIncident(logging.Filter):
    """A warning said once, not once per message: a screen reader sends hundreds of
    messages an hour, and an outage or a refused key would fill the log with the same
    line. The same words are said again only after ``QUIET`` seconds without them."""

    QUIET = 600.0

    def __init__(self) -> None:
        super().__init__()
        self._last: dict[str, float] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        words, now = record.getMessage(), time.monotonic()
        seen = self._last.get(words)
        self._last[words] = now
        return seen is None or now - seen > self.QUIET


def main() -> int:
    """``sd_kuhu [CONFIG]``: the module, on stdin and stdout (its log on stderr, which
    the server keeps in its log folder)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_OncePerIncident())
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("kuhu_driver")
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    wire = Wire.claim()
    Module(wire).run()
    return 0
