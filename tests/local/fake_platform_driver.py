"""A fake pyttsx3 platform driver, standing in for SAPI5 (Windows) and
NSSpeechSynthesizer (macOS), which cannot run here. The local voice's helper loads it by
name (``KUHU_LOCAL_DRIVER=fakeplatform``, through an entry point the test writes).

``FAKE_PLATFORM`` chooses what it does with ``save_to_file``: ``wav18`` (a WAV whose fmt
chunk has 18 bytes, as SAPI writes), ``aiff`` (big-endian), ``aifc-sowt`` (AIFF-C,
little-endian, as macOS writes), ``aifc-twos``, ``header-only`` (an AIFF with no samples:
pyttsx3 2.90/2.91 on macOS), ``never`` (no file), ``raise`` (an exception, which
pyttsx3 swallows), ``english-only`` (no Chinese voice), ``silent`` (a WAV of zeros: an
English voice given Chinese text), ``bad-voices`` (listing voices
raises, as pyttsx3 2.99 does on Windows for a language such as "409;9"), ``sapi-409``
(the same, with SAPI's own voice tokens reachable as SAPI5's driver has them, ``_tts``),
``zh-hk-first`` (a Cantonese voice listed before the Mandarin one), ``hang`` (the file is
written, its end never reported: SAPI5's loop waiting out a synthesis).
``FAKE_LOG``: a file that gets one JSON line per save (text, voice).

As NSSpeechSynthesizer and SAPI5 do, it writes a file asynchronously: ``save_to_file``
starts the writing and returns; the file grows for ``WRITE_SECONDS``; the platform's
"finished" reaches pyttsx3 from the driver's loop; and ``stop()`` cuts the writing off
where it is (``stopSpeaking``), leaving a file shorter than its header says.
"""

from __future__ import annotations

import json
import os
import struct
import threading
import time
from typing import Any

RATE = 22050
#: How long writing a file takes (the platform speaking into it).
WRITE_SECONDS = 0.05


def samples(text: str) -> list[int]:
    return [(i * 37) % 2000 - 1000 for i in range(100 * len(text))]


def _aiff(pcm_be: bytes, kind: bytes | None) -> bytes:
    frames = len(pcm_be) // 2
    # 80-bit extended 22050.0: exponent 16383 + 14, mantissa 22050 << 49.
    rate = struct.pack(">HQ", 16383 + 14, RATE << 49)
    # AIFF-C: the compression type, then its name as a Pascal string padded to even.
    comm = struct.pack(">hIh", 1, frames, 16) + rate + (kind + b"\x00\x00" if kind else b"")
    ssnd = struct.pack(">II", 0, 0) + pcm_be
    form = b"AIFC" if kind else b"AIFF"
    body = form + b"COMM" + struct.pack(">I", len(comm)) + comm
    body += b"SSND" + struct.pack(">I", len(ssnd)) + ssnd
    return b"FORM" + struct.pack(">I", len(body)) + body


def render(text: str, mode: str) -> bytes:
    values = [0] * len(samples(text)) if mode == "silent" else samples(text)
    little = struct.pack(f"<{len(values)}h", *values)
    big = struct.pack(f">{len(values)}h", *values)
    if mode == "aiff":
        return _aiff(big, None)
    if mode == "aifc-twos":
        return _aiff(big, b"twos")
    if mode == "aifc-sowt":
        return _aiff(little, b"sowt")
    if mode == "header-only":
        return _aiff(b"", None)
    fmt = struct.pack("<HHIIHHH", 1, 1, RATE, RATE * 2, 2, 16, 0)  # 18 bytes, as SAPI
    return (
        b"RIFF"
        + struct.pack("<I", 4 + 8 + len(fmt) + 8 + len(little))
        + b"WAVE"
        + b"fmt "
        + struct.pack("<I", len(fmt))
        + fmt
        + b"data"
        + struct.pack("<I", len(little))
        + little
    )


class _Voice:
    def __init__(self, id: str, name: str, languages: list[str]) -> None:
        self.id, self.name, self.languages = id, name, languages
        self.gender = self.age = None


class _Token:
    """A SAPI voice token as comtypes shows it: ``Id``, ``GetDescription()`` and
    ``GetAttribute("Language")`` (LCIDs in hex, ``;``-separated)."""

    def __init__(self, id: str, description: str, language: str) -> None:
        self.Id, self._description, self._language = id, description, language

    def GetDescription(self) -> str:
        return self._description

    def GetAttribute(self, name: str) -> str:
        assert name == "Language"
        return self._language


class _SpVoice:
    def GetVoices(self) -> list[_Token]:
        base = "HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Speech\\Voices\\Tokens\\"
        return [
            _Token(base + "TTS_MS_EN-US_ZIRA_11.0", "Microsoft Zira Desktop", "409"),
            _Token(base + "NaturalVoice_Aria", "Microsoft Aria (Natural)", "409;9"),
            _Token(base + "TTS_MS_ZH-HK_TRACY_11.0", "Microsoft Tracy Desktop", "C04"),
            _Token(base + "TTS_MS_ZH-CN_HUIHUI_11.0", "Microsoft Huihui Desktop", "804"),
        ]


class FakePlatformDriver:
    def __init__(self, proxy: Any) -> None:
        self._proxy = proxy
        if os.environ.get("FAKE_PLATFORM") == "sapi-409":
            self._tts = _SpVoice()
        self._looping = False
        self._written = False
        self._cut = threading.Event()
        self._props: dict[str, Any] = {"voice": "en-voice", "rate": 200, "volume": 1.0}

    def destroy(self) -> None:
        pass

    def startLoop(self) -> None:
        # As SAPI5's and NSSpeechSynthesizer's drivers do: idle at the start, busy while
        # a file is written, idle again when the platform says it is done.
        self._looping = True
        self._proxy.setBusy(False)
        while self._looping:
            if self._written:
                self._written = False
                self._proxy.setBusy(False)
            time.sleep(0.005)

    def endLoop(self) -> None:
        self._looping = False

    def iterate(self) -> Any:
        self._proxy.setBusy(False)
        yield

    def say(self, text: str) -> None:
        pass

    def stop(self) -> None:
        self._cut.set()  # stopSpeaking: the file being written ends where it is

    def save_to_file(self, text: str, filename: str) -> None:
        self._proxy.setBusy(True)
        mode = os.environ.get("FAKE_PLATFORM", "wav18")
        log = os.environ.get("FAKE_LOG")
        if log:
            with open(log, "a", encoding="utf-8") as f:
                f.write(json.dumps({"text": text, "voice": self._props["voice"]}) + "\n")
        if mode == "raise":
            raise RuntimeError("the platform's synthesizer failed")
        self._cut = threading.Event()
        data = b"" if mode == "never" else render(text, mode)
        threading.Thread(target=self._write, args=(filename, data, self._cut)).start()

    def _write(self, filename: str, data: bytes, cut: threading.Event) -> None:
        if data:
            with open(filename, "wb") as f:
                half = len(data) // 2
                f.write(data[:half])
                f.flush()
                if not cut.wait(WRITE_SECONDS):
                    f.write(data[half:])
        if os.environ.get("FAKE_PLATFORM") != "hang":  # "hang": done is never reported
            self._written = True  # "done" reaches pyttsx3 from the loop, as the delegate's

    def getProperty(self, name: str) -> Any:
        if name == "voices":
            mode = os.environ.get("FAKE_PLATFORM", "wav18")
            if mode in ("bad-voices", "sapi-409"):
                raise ValueError("invalid literal for int() with base 16: '409;9'")
            english = _Voice("en-voice", "English", ["en_US"])
            if mode == "english-only":
                return [english]
            if mode == "zh-hk-first":
                hk = _Voice("hk-voice", "Tracy (Chinese, Hong Kong)", ["zh_HK"])
                return [english, hk, _Voice("zh-voice", "Huihui", ["zh_CN"])]
            return [english, _Voice("zh-voice", "Huihui", ["zh_CN"])]
        return self._props[name]

    def setProperty(self, name: str, value: Any) -> None:
        self._props[name] = value


def buildDriver(proxy: Any) -> FakePlatformDriver:
    return FakePlatformDriver(proxy)
