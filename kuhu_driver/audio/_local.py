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

import atexit
import contextlib
import json
import logging
import shutil
import subprocess
import sys
import tempfile
import threading
import weakref
from pathlib import Path
from typing import Any

from .._text import has_han
from ..errors import LocalVoiceError
from ._codec import read_sound_file

logger = logging.getLogger(__name__)

#: Seconds a local synthesis may take before we give up on it.
SYNTH_TIMEOUT = 30.0
_INSTALL_HINT = {
    "linux": "install eSpeak NG (Debian/Ubuntu: sudo apt install espeak-ng)",
    "darwin": "the system voice should be there; check System Settings > Spoken Content",
    "win32": "the SAPI5 voices come with Windows; install pywin32 and comtypes",
}


_voices: weakref.WeakSet[LocalVoice] = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    for voice in list(_voices):
        voice.close()


class LocalVoice:
    """Text to PCM with the platform's voice, through a helper process started on first use."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[str] | None = None
        self._dir: tempfile.TemporaryDirectory[str] | None = None
        self._broken: str | None = None
        self._told = False
        self._count = 0
        _voices.add(self)

    def available(self) -> bool:
        """Whether the local voice works here (starts the helper); says once if it does not."""
        with self._lock:
            return self._espeak is not None or self._start_locked()

    @property
    def _espeak(self) -> str | None:
        return shutil.which("espeak-ng") if sys.platform.startswith("linux") else None

    def _start_locked(self) -> bool:
        if self._proc is not None and self._proc.poll() is None:
            return True
        if self._broken is not None:
            return False
        try:
            self._dir = tempfile.TemporaryDirectory(prefix="kuhu-local-")
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "kuhu_driver.audio._local_helper"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
                encoding="utf-8",
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

    def synthesize(self, text: str, *, rate: int = 200, volume: float = 1.0) -> tuple[bytes, int]:
        """Mono 16-bit PCM and its sample rate for ``text``, spoken by the local voice."""
        espeak = self._espeak
        if espeak is not None:
            return _espeak_ng(espeak, text, rate, volume)
        with self._lock:
            if not self._start_locked():
                raise LocalVoiceError(f"no local voice: {self._broken}")
            assert self._proc is not None and self._proc.stdin is not None
            assert self._dir is not None
            self._count += 1
            path = Path(self._dir.name) / f"{self._count}.wav"
            request = {"text": text, "rate": rate, "volume": volume, "path": str(path)}
            try:
                self._proc.stdin.write(json.dumps(request) + "\n")
                self._proc.stdin.flush()
                reply = self._reply_locked(SYNTH_TIMEOUT)
            except (OSError, LocalVoiceError) as exc:
                self._stop_locked()
                raise LocalVoiceError(f"the local voice failed: {exc}") from None
            if not reply.get("ok"):
                raise LocalVoiceError(f"the local voice failed: {reply.get('error')}")
            try:
                return read_sound_file(path)
            finally:
                path.unlink(missing_ok=True)

    def _reply_locked(self, timeout: float) -> dict[str, Any]:
        assert self._proc is not None and self._proc.stdout is not None
        out: list[str] = []
        reader = threading.Thread(
            target=lambda: out.append(self._proc.stdout.readline()),  # type: ignore[union-attr]
            daemon=True,
        )
        reader.start()
        reader.join(timeout)
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


def _espeak_ng(command: str, text: str, rate: int, volume: float) -> tuple[bytes, int]:
    """eSpeak NG's command: WAV on its standard output; a Chinese voice for Chinese."""
    with tempfile.TemporaryDirectory(prefix="kuhu-local-") as tmp:
        path = Path(tmp) / "speech.wav"
        argv = [command, "-w", str(path), "-s", str(max(80, rate)), "-a", str(round(volume * 100))]
        if has_han(text):
            argv += ["-v", "cmn"]
        try:
            # The text is an argument, never shell input: no shell is involved.
            proc = subprocess.run(  # noqa: S603
                [*argv, "--", text], capture_output=True, timeout=SYNTH_TIMEOUT, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise LocalVoiceError(f"eSpeak NG failed: {exc}") from None
        if proc.returncode != 0 or not path.exists():
            err = proc.stderr.decode("utf-8", "replace").strip()[:200]
            raise LocalVoiceError(f"eSpeak NG failed (exit {proc.returncode}): {err}")
        return read_sound_file(path)
