"""The local voice's helper process: pyttsx3's platform driver, one request a line.

``python -m kuhu_driver.local._helper`` reads JSON requests on stdin and answers
each with one JSON line. It runs apart from the caller so that a platform driver that
hangs, crashes or prints cannot take the caller's process or output with it.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
from typing import Any

from .._pyttsx3 import driver_class_name
from .._text import has_han
from ..errors import LocalVoiceError

#: What a platform voice would obey rather than say: SAPI reads text that starts with
#: "<" as XML (``<volume level="0">`` is obeyed; broken markup raises inside pyttsx3), and
#: NSSpeechSynthesizer obeys embedded commands such as ``[[slnc 5000]]``.
_MARKUP = str.maketrans({"<": "\uff1c", ">": "\uff1e"})


def plain_text(text: str) -> str:
    """``text`` as words only: markup characters become their full-width look-alikes
    (said the same, never parsed), and ``[[`` is broken apart."""
    return text.translate(_MARKUP).replace("[[", "[ [").replace("]]", "] ]")


class NoChineseVoice(LocalVoiceError):
    """Chinese text, and no Chinese voice installed: the platform would say nothing."""


def _voices(engine: Any) -> list[Any] | None:
    """The platform's voices; None if they cannot be listed (pyttsx3 2.99 on Windows
    raises when any voice reports a language such as "409;9")."""
    try:
        return list(engine.getProperty("voices") or [])
    except Exception:
        return None


def _pick_voice(engine: Any, text: str) -> str | None:
    """A Chinese voice for Chinese text (:class:`NoChineseVoice` if there is none)."""
    voices = _voices(engine)
    if not has_han(text) or voices is None:
        return None  # the default voice
    for voice in voices:
        langs = " ".join(
            lang.decode("latin-1") if isinstance(lang, bytes) else str(lang)
            for lang in (voice.languages or [])
        )
        label = f"{voice.id} {voice.name} {langs}".lower()
        if any(tag in label for tag in ("cmn", "zh", "chinese", "mandarin")):
            return str(voice.id)
    raise NoChineseVoice("no Chinese voice is installed")


def helper_main() -> int:
    """The helper's loop: JSON requests on stdin, one reply line each."""
    out = sys.stdout
    sys.stdout = sys.stderr  # drivers that print must not garble the replies
    with contextlib.suppress(ValueError, OSError):  # Ctrl-C is the caller's to handle
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        import pyttsx3

        # KUHU_LOCAL_DRIVER names pyttsx3's driver (the tests give a fake one).
        engine = pyttsx3.init(os.environ.get("KUHU_LOCAL_DRIVER") or None)
        default_voice = engine.getProperty("voice")
    except Exception as exc:
        out.write(json.dumps({"ok": False, "error": f"{type(exc).__name__}: {exc}"}) + "\n")
        out.flush()
        return 1
    out.write(json.dumps({"ok": True, "driver": driver_class_name(engine)}) + "\n")
    out.flush()
    for line in sys.stdin:
        try:
            req = json.loads(line)
            engine.setProperty("voice", _pick_voice(engine, req["text"]) or default_voice)
            engine.setProperty("rate", int(req["rate"]))
            engine.setProperty("volume", float(req["volume"]))
            engine.save_to_file(plain_text(req["text"]), req["path"])
            engine.runAndWait()
            if not os.path.exists(req["path"]):  # noqa: PTH110
                raise LocalVoiceError("no sound file was written")
            reply: dict[str, Any] = {"ok": True}
        except NoChineseVoice as exc:
            reply = {"ok": False, "error": str(exc), "no_chinese_voice": True}
        except Exception as exc:
            reply = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        out.write(json.dumps(reply) + "\n")
        out.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(helper_main())
