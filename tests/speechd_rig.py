"""A private Speech Dispatcher for tests (shared/speech-dispatcher.md): its own conf
folder and socket, no systemd, its audio to the PulseAudio rig (tests/rig.py), and our
module installed as a user installs it (``kuhu-say --install-speechd`` into its HOME,
found by the server's auto-detection). Clients reach it through ``client_env``."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

#: The system Python, which has Debian's ``speechd`` client (python3-speechd).
SYSTEM_PYTHON = "/usr/bin/python3"
CLIENT = str(Path(__file__).resolve().parent / "speechd" / "orca_client.py")


class PrivateSpeechd:
    def __init__(self, base: Path, pulse: Any, env: dict[str, str]) -> None:
        self.base = base
        self.home = base / "home"
        self.home.mkdir(parents=True, exist_ok=True)
        # A unix socket's path holds at most 107 bytes: a short folder of its own.
        self.socket = Path(tempfile.mkdtemp(prefix="kuhu-sd-")) / "speechd.sock"
        self.conf = base / "conf"
        self.conf.mkdir(exist_ok=True)
        self.logs = base / "logs"
        self.logs.mkdir(exist_ok=True)
        (self.conf / "speechd.conf").write_text(
            f'CommunicationMethod "unix_socket"\nSocketPath "{self.socket}"\n'
            'LogLevel 3\nAudioOutputMethod "pulse"\nDefaultModule "kuhu"\n'
            "DefaultVolume 100\n"
        )
        self.env = {
            **env,
            "HOME": str(self.home),
            "PULSE_SERVER": pulse.env["PULSE_SERVER"],
            "XDG_RUNTIME_DIR": pulse.env["XDG_RUNTIME_DIR"],
        }
        self.env.pop("XDG_DATA_HOME", None)
        self.env.pop("XDG_CONFIG_HOME", None)
        self.proc: subprocess.Popen[bytes] | None = None

    def install(self) -> subprocess.CompletedProcess[str]:
        kuhu_say = [sys.executable, "-m", "kuhu_driver", "--install-speechd"]
        return subprocess.run(kuhu_say, env=self.env, capture_output=True, text=True, check=True)

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                "speech-dispatcher",
                "-s",
                "-t",
                "0",
                "-C",
                str(self.conf),
                "-P",
                str(self.base / "speechd.pid"),
                "-L",
                str(self.logs),
            ],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while not self.socket.exists():
            assert time.monotonic() < deadline, "speech-dispatcher did not start"
            assert self.proc.poll() is None, self.log()
            time.sleep(0.05)

    def client_env(self) -> dict[str, str]:
        return {
            **self.env,
            "SPEECHD_ADDRESS": f"unix_socket:{self.socket}",
            "SPEECHD_CMD": "/bin/false",  # never start the system's server
        }

    def spd_say(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["spd-say", "-o", "kuhu", *args],
            env=self.client_env(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def module_pids(self) -> list[int]:
        """Our module's processes (``python -m kuhu_driver.speechd``)."""
        pids = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                with contextlib.suppress(OSError):
                    cmd = (entry / "cmdline").read_bytes().split(b"\0")
                    if b"kuhu_driver.speechd" in cmd and self.home.name.encode():
                        env = (entry / "environ").read_bytes()
                        if f"HOME={self.home}".encode() in env.split(b"\0"):
                            pids.append(int(entry.name))
        return pids

    def log(self, name: str = "speech-dispatcher.log") -> str:
        path = self.logs / name
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        with contextlib.suppress(OSError):
            os.unlink(self.socket)
