"""The audio rigs of shared/audio-test-rig.md, as test helpers.

- Capture rig: ALSA's file plugin appends every byte simpleaudio plays to a file,
  unpaced (a 10 s clip "plays" in milliseconds).
- Paced rig: a private PulseAudio daemon with a null sink, for timing (stop latency).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

CAPTURE_ASOUNDRC = """pcm.!default {{
  type file
  slave.pcm "null"
  file "| cat >> {path}"
  format "raw"
}}
"""


def make_capture_home(home: Path) -> Path:
    """A HOME whose .asoundrc captures playback; returns the capture file."""
    home.mkdir(parents=True, exist_ok=True)
    capture = home / "capture.raw"
    capture.write_bytes(b"")
    (home / ".asoundrc").write_text(CAPTURE_ASOUNDRC.format(path=capture))
    return capture


def make_broken_home(home: Path) -> None:
    """A HOME whose default ALSA device cannot be opened (no sound card)."""
    home.mkdir(parents=True, exist_ok=True)
    (home / ".asoundrc").write_text("pcm.!default { type hw card 7 }\n")


class Capture:
    """What reached the capture device since ``mark()``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = path.stat().st_size

    def mark(self) -> None:
        self.offset = self.settle()

    def settle(self, quiet: float = 0.25, timeout: float = 10.0) -> int:
        """Wait until the `cat` writers have finished (the size holds still)."""
        deadline = time.monotonic() + timeout
        last = -1
        still_since = time.monotonic()
        while time.monotonic() < deadline:
            size = self.path.stat().st_size
            if size != last:
                last, still_since = size, time.monotonic()
            elif time.monotonic() - still_since >= quiet:
                return size
            time.sleep(0.02)
        return last

    def read(self) -> bytes:
        end = self.settle()
        with self.path.open("rb") as f:
            f.seek(self.offset)
            return f.read(end - self.offset)


class PulseRig:
    """A PulseAudio daemon with a null sink, and a recorder of what it plays."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.home = base / "home"
        self.runtime = base / "runtime"
        self.home.mkdir(parents=True, exist_ok=True)
        self.runtime.mkdir(mode=0o700, parents=True, exist_ok=True)
        (self.home / ".asoundrc").write_text(
            "pcm.!default { type pulse }\nctl.!default { type pulse }\n"
        )
        self.env = {**os.environ, "HOME": str(self.home), "XDG_RUNTIME_DIR": str(self.runtime)}
        self.pid: int | None = None

    @staticmethod
    def available() -> bool:
        return shutil.which("pulseaudio") is not None and shutil.which("parec") is not None

    def start(self) -> None:
        subprocess.run(
            [
                "pulseaudio",
                "--daemonize=yes",
                "--exit-idle-time=-1",
                "-n",
                "--load=module-null-sink sink_name=nullsink",
                "--load=module-native-protocol-unix",
            ],
            env=self.env,
            check=True,
            capture_output=True,
            timeout=30,
        )
        pid_file = self.runtime / "pulse" / "pid"
        deadline = time.monotonic() + 10
        while not pid_file.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        self.pid = int(pid_file.read_text().split()[0])

    def stop(self) -> None:
        if self.pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGTERM)
            self.pid = None

    def warm_up(self) -> None:
        """Play a little silence: the monitor records nothing until the sink first runs."""
        code = "import simpleaudio; simpleaudio.play_buffer(bytes(22050), 1, 2, 22050).wait_done()"
        subprocess.run([sys.executable, "-c", code], env=self.env, check=True, timeout=30)
        time.sleep(0.5)

    def record(self, path: Path, rate: int) -> subprocess.Popen[bytes]:
        err_path = path.with_name(path.name + ".err")
        with path.open("wb") as out, err_path.open("wb") as err:
            return subprocess.Popen(
                [
                    "parec",
                    "-d",
                    "nullsink.monitor",
                    "--format=s16le",
                    f"--rate={rate}",
                    "--channels=1",
                    "--latency-msec=10",
                ],
                env=self.env,
                stdout=out,
                stderr=err,
            )
