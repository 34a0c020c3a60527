"""The platform's own voice, for when the cloud cannot answer: pyttsx3's driver for this
platform (eSpeak NG on Linux, SAPI5 on Windows, NSSpeechSynthesizer on macOS).

The local driver runs in a helper process (``python -m kuhu_driver.local``) that turns
text into a sound file with pyttsx3's ``save_to_file``; we read the samples back and
play them through the engine's own player, so ``stop()``, events and ordering are the
same as for cloud speech. A process of its own keeps the platform driver's event loop
and global state away from the program's pyttsx3 engine, and it starts once.

On Linux, eSpeak NG's own command writes the file instead: pyttsx3's espeak driver
(2.99) returns from ``runAndWait`` before ``save_to_file`` has written anything for some
texts (measured: 360 characters of Chinese, the first call in a process).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import threading
import time
import weakref
from array import array
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import subprocess
    import tempfile

from .._closing import Closing
from .._exit_order import at_exit as exit_step
from .._text import has_han
from ..audio import read_sound_file
from ..errors import LocalVoiceError

logger = logging.getLogger(__name__)

#: Seconds a local synthesis may take before we give up on it.
SYNTH_TIMEOUT = 30.0
_INSTALL_HINT = {
    "linux": "install eSpeak NG (Debian/Ubuntu: sudo apt install espeak-ng)",
    "darwin": "the system voice should be there; check System Settings > Spoken Content",
    "win32": "the SAPI5 voices come with Windows; install pywin32 and comtypes",
}


#: Where a Chinese voice comes from on each platform.
_CHINESE_HINT = {
    "win32": "add a Chinese (Simplified) voice that SAPI5 can use (Settings > Time & "
    "language > Speech shows OneCore voices, which SAPI5 does not see)",
    "darwin": "download a Chinese voice in System Settings > Accessibility > Spoken Content",
    "linux": "install eSpeak NG (its Mandarin voice is cmn)",
}
#: Audio whose loudest sample is below this (of 32,767) is silence, not speech.
SILENT_PEAK = 64
#: Fresh helpers started after failures before the local voice is given up.
MAX_RESTARTS = 3

_voices: weakref.WeakSet[LocalVoice] = weakref.WeakSet()


@exit_step("local voices")
def _close_all() -> None:
    for voice in list(_voices):
        voice.close()


class LocalVoice(Closing):
    """Text to PCM with the platform's voice, through a helper process started on first
    use; ``close()`` it, or use ``with``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[str] | None = None
        self._dir: tempfile.TemporaryDirectory[str] | None = None
        self._broken: str | None = None
        self._told = False
        self._count = 0
        self._restarts = 0
        self._said_no_chinese = False
        _voices.add(self)

    def available(self) -> bool:
        """Whether the local voice works here (starts the helper); says once if it does not."""
        with self._lock:
            return self._espeak is not None or self._start_locked()

    @property
    def _espeak(self) -> str | None:
        if os.environ.get("KUHU_LOCAL_DRIVER"):
            return None  # a pyttsx3 driver was named: the helper runs it (tests do)
        if not sys.platform.startswith("linux"):
            return None
        import shutil

        return shutil.which("espeak-ng")

    def _start_locked(self) -> bool:
        import subprocess
        import tempfile

        if self._proc is not None and self._proc.poll() is None:
            return True
        if self._broken is not None:
            return False
        try:
            python = helper_python()
            self._dir = tempfile.TemporaryDirectory(prefix="kuhu-")  # short: Windows paths
            # Started in that private folder: ``-m`` puts the working directory first on
            # sys.path, and a ``kuhu_driver/`` in the caller's (a cloned repository)
            # would run instead of ours.
            self._proc = subprocess.Popen(  # noqa: S603 - our interpreter, our module
                [python, "-m", "kuhu_driver.local._helper"],
                cwd=self._dir.name,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
                encoding="utf-8",
                **_apart(),
            )
            ready = self._reply_locked(SYNTH_TIMEOUT)
        except (OSError, LocalVoiceError) as exc:
            ready = {"ok": False, "error": str(exc)}
        if not ready.get("ok"):
            self._broken = str(ready.get("error") or "the local voice did not start")
            self._stop_locked()
            if not self._told:
                self._told = True
                hint = _INSTALL_HINT.get(sys.platform, "install a voice pyttsx3 can use")
                logger.warning("no local voice to fall back on (%s): %s", self._broken, hint)
            return False
        return True

    def synthesize(self, text: str, *, rate: float = 1.0, volume: int = 100) -> tuple[bytes, int]:
        """Mono 16-bit PCM and its sample rate for ``text``, spoken by the local voice.
        ``rate`` and ``volume`` are the API's units (a multiplier, 0-100), as in the
        request the local voice stands in for; pyttsx3's are made here."""
        words_per_minute, level = round(200 * rate), volume / 100
        espeak = self._espeak
        if espeak is not None:
            return _espeak_ng(espeak, text, words_per_minute, level)
        with self._lock:
            if not self._start_locked():
                raise LocalVoiceError(f"no local voice: {self._broken}")
            assert self._proc is not None and self._proc.stdin is not None
            assert self._dir is not None
            self._count += 1
            path = Path(self._dir.name) / f"{self._count}.wav"
            request = {"text": text, "rate": words_per_minute, "volume": level, "path": str(path)}
            try:
                self._proc.stdin.write(json.dumps(request) + "\n")
                self._proc.stdin.flush()
                reply = self._reply_locked(SYNTH_TIMEOUT)
            except (OSError, LocalVoiceError) as exc:
                self._failed_locked()  # a helper that hangs counts, or it could for ever
                raise LocalVoiceError(f"the local voice failed: {exc}") from None
            if not reply.get("ok"):
                self._failed_locked()
                if reply.get("no_chinese_voice"):
                    raise LocalVoiceError(_no_chinese_voice(self))
                raise LocalVoiceError(f"the local voice failed: {reply.get('error')}")
            try:
                pcm, rate = read_sound_file(path)
                if has_han(text) and _peak(pcm) < SILENT_PEAK:
                    # A voice that skips Chinese (an English one) "says" near-silence.
                    raise LocalVoiceError(_no_chinese_voice(self))
                return pcm, rate
            except LocalVoiceError:
                self._failed_locked()
                raise
            finally:
                path.unlink(missing_ok=True)

    def _failed_locked(self) -> None:
        """After a failure, the next piece gets a fresh helper (a platform driver's state
        may be stuck), at most ``MAX_RESTARTS`` times."""
        self._stop_locked()
        self._restarts += 1
        if self._restarts > MAX_RESTARTS:
            self._broken = "it failed too often"

    def _reply_locked(self, timeout: float) -> dict[str, Any]:
        assert self._proc is not None and self._proc.stdout is not None
        out: list[str] = []
        reader = threading.Thread(
            target=lambda: out.append(self._proc.stdout.readline()),  # type: ignore[union-attr]
            name="kuhu-local-reply",
            daemon=True,
        )
        reader.start()
        # In short slices: a long join cannot be interrupted by Ctrl-C on Windows (< 3.14).
        end = time.monotonic() + timeout
        while reader.is_alive() and time.monotonic() < end:
            reader.join(0.1)
        if not out or not out[0]:
            raise LocalVoiceError("the local voice helper did not answer")
        reply: dict[str, Any] = json.loads(out[0])
        return reply

    def _stop_locked(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            with contextlib.suppress(OSError):
                proc.kill()
            proc.wait()
            for stream in (proc.stdin, proc.stdout):
                if stream is not None:
                    with contextlib.suppress(OSError):
                        stream.close()
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None

    def close(self) -> None:
        with self._lock:
            self._stop_locked()


def _peak(pcm: bytes) -> int:
    samples = array("h", pcm[: len(pcm) - len(pcm) % 2])
    return max((abs(x) for x in samples), default=0)


def helper_python() -> str:
    """The Python that runs the helper: ``sys.executable``, unless this program is frozen
    (PyInstaller, py2app) or embedded (Blender…), where it would start the program itself."""
    exe = Path(sys.executable or "")
    if getattr(sys, "frozen", False) or not exe.name.lower().startswith(("python", "pypy")):
        raise LocalVoiceError(
            f"the local voice needs a Python interpreter to run its helper, and this "
            f"program runs from {exe.name or 'no executable'} (frozen or embedded); "
            "set KUHU_FALLBACK=off, or run it with python"
        )
    return str(exe)


def _apart() -> dict[str, Any]:
    """Popen options that keep the helper out of the console's Ctrl-C and, on Windows,
    open no console window for it."""
    import subprocess

    if sys.platform == "win32":
        flags = subprocess.CREATE_NO_WINDOW | subprocess.CREATE_NEW_PROCESS_GROUP
        return {"creationflags": flags}
    return {"start_new_session": True}


def _no_chinese_voice(voice: LocalVoice) -> str:
    hint = _CHINESE_HINT.get(sys.platform, "install a Chinese voice")
    if not voice._said_no_chinese:
        voice._said_no_chinese = True
        logger.warning("the local voice has no Chinese voice, so it would say nothing: %s", hint)
    return f"the local voice has no Chinese voice: {hint}"


def _espeak_ng(command: str, text: str, rate: int, volume: float) -> tuple[bytes, int]:
    """eSpeak NG's command: WAV on its standard output; a Chinese voice for Chinese."""
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory(prefix="kuhu-local-") as tmp:
        path = Path(tmp) / "speech.wav"
        argv = [command, "-w", str(path), "-s", str(max(80, rate)), "-a", str(round(volume * 100))]
        if has_han(text):
            argv += ["-v", "cmn"]
        try:
            # The text goes on standard input, never on the command line, which every
            # user of the machine can read (/proc/*/cmdline, ps).
            proc = subprocess.run(  # noqa: S603
                [*argv, "--stdin"],
                input=text.encode("utf-8"),
                capture_output=True,
                timeout=SYNTH_TIMEOUT,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise LocalVoiceError(f"eSpeak NG failed: {exc}") from None
        if proc.returncode != 0 or not path.exists():
            err = proc.stderr.decode("utf-8", "replace").strip()[:200]
            raise LocalVoiceError(f"eSpeak NG failed (exit {proc.returncode}): {err}")
        return read_sound_file(path)
