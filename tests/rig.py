"""The audio rigs of shared/audio-test-rig.md, as test helpers.

One private PulseAudio daemon with a null sink plays in real time. Two ways to hear it:

- Exact and paced (rig 3): ALSA's file plugin in front of that daemon appends every
  byte a program plays to a capture file, while the daemon paces it. The program gets
  ``PULSE_SERVER=unix:/nonexistent`` so its audio library takes the ALSA path. A stream
  that stays open writes zeros while idle; the test audio holds no zero sample, so
  :class:`Capture` drops zero samples before comparing.
- As a listener hears it (rig 2): the program talks to the daemon directly
  (``PulseRig.env``) and ``record()`` captures the sink's monitor with timestamps.

A keeper recorder runs on the monitor all the time: a null sink nobody records from
stalls new streams at random here (measured: every second stream took no audio).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from array import array
from pathlib import Path
from typing import Any

RATE = 22050
NO_PULSE = "unix:/nonexistent"

CAPTURE_ASOUNDRC = """pcm.pacer {{
  type pulse
  server "unix:{native}"
}}
pcm.!default {{
  type file
  slave.pcm "pacer"
  file "| cat >> {path}"
  format "raw"
}}
"""


def make_broken_home(home: Path) -> None:
    """A HOME whose default ALSA device cannot be opened (no sound card)."""
    home.mkdir(parents=True, exist_ok=True)
    (home / ".asoundrc").write_text("pcm.!default { type hw card 7 }\n")


def nonzero(raw: bytes) -> bytes:
    """The samples of ``raw`` that are not zero: what was played, without idle silence."""
    samples = array("h", raw[: len(raw) - len(raw) % 2])
    return array("h", [s for s in samples if s]).tobytes()


class Capture:
    """What reached the capture device since ``mark()``, idle silence dropped."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = path.stat().st_size

    def mark(self) -> None:
        """Start afresh: once an earlier test's sound has ended, nothing before counts."""
        self.offset = self._settle(quiet=0.3)[1]

    def read_now(self, grace: float = 0.05) -> bytes:
        """What has reached the device already (``grace`` seconds allowed for the pipe
        into the capture file): no waiting for more sound."""
        time.sleep(grace)
        with self.path.open("rb") as f:
            f.seek(self.offset)
            return nonzero(f.read())

    def read(self, quiet: float = 0.4) -> bytes:
        """Wait until no new sound arrives for ``quiet`` seconds; return what came."""
        return self._settle(quiet)[0]

    def _settle(self, quiet: float, timeout: float = 30.0) -> tuple[bytes, int]:
        deadline = time.monotonic() + timeout
        last = -1
        still_since = time.monotonic()
        sound = b""
        end = self.offset
        while time.monotonic() < deadline:
            with self.path.open("rb") as f:
                f.seek(self.offset)
                raw = f.read()
            sound = nonzero(raw)
            if len(sound) != last:
                last, still_since = len(sound), time.monotonic()
            elif time.monotonic() - still_since >= quiet:
                end = self.offset + len(raw)
                break
            time.sleep(0.05)
        return sound, end


class PulseRig:
    """A PulseAudio daemon with a null sink, an exact capture in front of it, a recorder."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.home = base / "home"
        self.runtime = base / "runtime"
        # A unix socket's path may hold at most 107 bytes: a deep test folder (a clone in a
        # long path, pytest's temp root of a parallel run) would make the server fail to
        # start. The socket lives in a short folder of its own.
        self.native = Path(tempfile.mkdtemp(prefix="kuhu-pa-")) / "native"
        self.capture_file = base / "capture.raw"
        self.home.mkdir(parents=True, exist_ok=True)
        self.runtime.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.capture_file.write_bytes(b"")
        # Rig 2's HOME: ALSA programs (simpleaudio) reach the daemon through the plugin.
        (self.home / ".asoundrc").write_text(
            f'pcm.!default {{ type pulse\n server "unix:{self.native}" }}\n'
            f'ctl.!default {{ type pulse\n server "unix:{self.native}" }}\n'
        )
        self.capture_home = base / "capture-home"
        self.capture_home.mkdir(exist_ok=True)
        (self.capture_home / ".asoundrc").write_text(
            CAPTURE_ASOUNDRC.format(native=self.native, path=self.capture_file)
        )
        self.env = {
            **os.environ,
            "HOME": str(self.home),
            "XDG_RUNTIME_DIR": str(self.runtime),
            "PULSE_SERVER": f"unix:{self.native}",
        }
        #: A program's environment for the exact capture (rig 3).
        self.capture_env = {
            **os.environ,
            "HOME": str(self.capture_home),
            "XDG_RUNTIME_DIR": str(self.runtime),
            "PULSE_SERVER": NO_PULSE,
        }
        self.pid: int | None = None
        self._keeper: subprocess.Popen[bytes] | None = None

    @staticmethod
    def available() -> bool:
        return shutil.which("pulseaudio") is not None and shutil.which("parec") is not None

    def start(self) -> None:
        self.native.unlink(missing_ok=True)
        subprocess.run(
            [
                "pulseaudio",
                "--daemonize=yes",
                "--exit-idle-time=-1",
                "-n",
                "--load=module-null-sink sink_name=nullsink",
                f"--load=module-native-protocol-unix socket={self.native}",
            ],
            env=self.env,
            check=True,
            capture_output=True,
            timeout=30,
        )
        pid_file = self.runtime / "pulse" / "pid"
        deadline = time.monotonic() + 10
        while not (pid_file.exists() and self.native.exists()) and time.monotonic() < deadline:
            time.sleep(0.05)
        self.pid = int(pid_file.read_text().split()[0])
        # Wait until the sink runs: its monitor delivers a second of samples.
        keep = self.base / "keeper.raw"
        self._keeper = self.record(keep, RATE)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if keep.exists() and keep.stat().st_size >= 2 * RATE * 1.5:
                break
            time.sleep(0.05)

    def stop(self) -> None:
        if self._keeper is not None:
            self._keeper.terminate()
            self._keeper.wait()
            self._keeper = None
        if self.pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGTERM)
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                try:
                    os.kill(self.pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.02)
            self.pid = None

    def parec(self, rate: int = RATE) -> list[str]:
        """The command that records the null sink's monitor to standard output."""
        return [
            "parec",
            f"--server=unix:{self.native}",
            "-d",
            "nullsink.monitor",
            "--format=s16le",
            f"--rate={rate}",
            "--channels=1",
            "--latency-msec=10",
        ]

    def record(self, path: Path, rate: int = RATE) -> subprocess.Popen[bytes]:
        err_path = path.with_name(path.name + ".err")
        with path.open("wb") as out, err_path.open("wb") as err:
            return subprocess.Popen(self.parec(rate), env=self.env, stdout=out, stderr=err)


class Recorder:
    """Records the sink's monitor with timestamps: when each sample was heard.

    parec's output is read as it arrives; a sample's time is its chunk's arrival time less
    the samples after it in that chunk (parec is asked for 10 ms of latency).
    """

    def __init__(self, rig: PulseRig, rate: int = RATE) -> None:
        import threading

        self.rate = rate
        self.data = bytearray()
        self.arrivals: list[tuple[float, int]] = []  # (time, total bytes so far)
        self._proc = subprocess.Popen(
            rig.parec(rate),
            env=rig.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while len(self.data) < rate and time.monotonic() < deadline:  # running: 0.5 s heard
            time.sleep(0.02)

    def _read(self) -> None:
        assert self._proc.stdout is not None
        fd = self._proc.stdout.fileno()
        while True:
            chunk = os.read(fd, 4096)
            if not chunk:
                return
            now = time.monotonic()
            self.data += chunk
            self.arrivals.append((now, len(self.data)))

    def stop(self) -> None:
        time.sleep(0.2)
        self._proc.terminate()
        self._proc.wait()
        self._thread.join(5)
        if self._proc.stdout is not None:
            self._proc.stdout.close()

    def time_of(self, sample: int) -> float:
        """When sample number ``sample`` of the recording was heard."""
        pos = 2 * sample
        for t, total in self.arrivals:
            if total > pos:
                return t - (total - pos) / 2 / self.rate
        raise ValueError("sample past the end of the recording")

    def sound(self, threshold: int = 300) -> list[int]:
        """Indexes of the loud samples."""
        samples = array("h", bytes(self.data[: len(self.data) - len(self.data) % 2]))
        return [i for i, s in enumerate(samples) if abs(s) > threshold]

    def silences(self, first: int, last: int) -> list[float]:
        """Runs of near-silence between samples ``first`` and ``last``, in seconds."""
        return silences(bytes(self.data[2 * first : 2 * last + 2]), self.rate)


def bursts(loud: list[int], rate: int = RATE, gap: float = 0.02) -> int:
    """Runs of sound among the loud samples ``loud`` (indexes, as ``Recorder.sound``
    gives them), separated by at least ``gap`` seconds of silence."""
    if not loud:
        return 0
    limit = gap * rate
    return 1 + sum(1 for a, b in itertools.pairwise(loud) if b - a > limit)


def silences(pcm: bytes, rate: int = RATE, min_ms: float = 1.0) -> list[float]:
    """Lengths (s) of the runs of near-silence inside ``pcm`` (its ends trimmed)."""
    return [n / rate for _, n in silent_runs(pcm, rate, min_ms)]


def silent_runs(pcm: bytes, rate: int = RATE, min_ms: float = 1.0) -> list[tuple[int, int]]:
    """``(start, length)`` in samples, counted from the first loud sample, of each run of
    near-silence inside ``pcm`` (its ends trimmed)."""
    samples = array("h", pcm[: len(pcm) - len(pcm) % 2])
    loud = [i for i, s in enumerate(samples) if abs(s) > 300]
    if not loud:
        return []
    runs: list[tuple[int, int]] = []
    run = 0
    for i, s in enumerate(samples[loud[0] : loud[-1] + 1]):
        if abs(s) <= 100:
            run += 1
        else:
            if run * 1000 / rate >= min_ms:
                runs.append((i - run, run))
            run = 0
    return runs


def expected_signal(pieces: list[str], audio_per_char: float) -> bytes:
    """The emulator's PCM for ``pieces`` (default voice and properties), back to back."""
    from kuhu_driver.api import DEFAULT_VOICE
    from kuhu_driver.testing import KuhuEmulator

    emu = KuhuEmulator(audio_seconds_per_billed_char=audio_per_char)
    return b"".join(emu.render(p, voice=DEFAULT_VOICE.id) for p in pieces)


#: The pyttsx3 programs whose sound the real-time tests record (see its docstring).
PROGRAM = str(Path(__file__).resolve().with_name("heard_program.py"))


def run_recorded(
    rig: PulseRig, args: list[str], env: dict[str, str], timeout: float = 300
) -> tuple[subprocess.CompletedProcess[str], Recorder]:
    """Run ``python ARGS`` talking straight to ``rig``'s sound server (with ``env``
    added) while its sink is recorded; the finished process and what was heard."""
    rec = Recorder(rig)
    try:
        proc = subprocess.run(
            [sys.executable, *args],
            env={**rig.env, **env},
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    finally:
        rec.stop()
    return proc, rec


def run_heard(
    rig: PulseRig,
    mode: str,
    backend: str = "miniaudio",
    *,
    latency: float = 0.05,
    env: dict[str, str] | None = None,
    args: tuple[str, ...] = (),
) -> tuple[dict[str, Any], Recorder]:
    """Run ``heard_program.py MODE LATENCY *ARGS`` on ``rig``; its JSON output and what
    was heard."""
    proc, rec = run_recorded(
        rig, [PROGRAM, mode, str(latency), *args], {"KUHU_AUDIO": backend, **(env or {})}
    )
    assert proc.returncode == 0, proc.stderr
    out: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["backend"] == backend
    return out, rec
