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

from .._pyttsx3 import driver_class_name, end_the_loop_on_error, hold_for_the_loop
from .._text import has_han
from ..errors import LocalVoiceError
from ._voices import best_chinese, listed_voices

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


def _pick_voice(engine: Any, text: str) -> str | None:
    """The best Chinese voice for Chinese text (:class:`NoChineseVoice` if there is
    none; see ``_voices``); None (the default voice) for other text, or when the
    platform's voices cannot be listed at all."""
    if not has_han(text):
        return None
    voices = listed_voices(engine)
    if voices is None:
        return None
    best = best_chinese(voices)
    if best is None:
        raise NoChineseVoice("no Chinese voice is installed")
    return best.id


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
        end_the_loop_on_error(engine)
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
            hold_for_the_loop(engine)  # pyttsx3 2.99 would cut the file short
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
