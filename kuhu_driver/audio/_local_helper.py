"""The local voice's helper process: pyttsx3's platform driver, one request a line.

``python -m kuhu_driver.audio._local_helper`` reads JSON requests on stdin and answers
each with one JSON line. It runs apart from the caller so that a platform driver that
hangs, crashes or prints cannot take the caller's process or output with it.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from .._pyttsx3 import driver_class_name
from .._text import has_han
from ..errors import LocalVoiceError


def _pick_voice(engine: Any, text: str) -> str | None:
    """A Chinese voice for Chinese text, when the platform has one."""
    if not has_han(text):
        return None
    for voice in engine.getProperty("voices") or []:
        langs = " ".join(
            lang.decode("latin-1") if isinstance(lang, bytes) else str(lang)
            for lang in (voice.languages or [])
        )
        label = f"{voice.id} {voice.name} {langs}".lower()
        if any(tag in label for tag in ("cmn", "zh", "chinese", "mandarin")):
            return str(voice.id)
    return None


def helper_main() -> int:
    """The helper's loop: JSON requests on stdin, one reply line each."""
    out = sys.stdout
    sys.stdout = sys.stderr  # drivers that print must not garble the replies
    try:
        import pyttsx3

        engine = pyttsx3.init()
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
            engine.save_to_file(req["text"], req["path"])
            engine.runAndWait()
            if not os.path.exists(req["path"]):  # noqa: PTH110
                raise LocalVoiceError("no sound file was written")
            reply: dict[str, Any] = {"ok": True}
        except Exception as exc:
            reply = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        out.write(json.dumps(reply) + "\n")
        out.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(helper_main())
