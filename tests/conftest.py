"""Shared fixtures. The ``kuhu_emulator`` fixture comes from kuhu_driver's pytest plugin."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=40, deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")


@pytest.fixture(autouse=True)
def _isolated_env(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """No test sees the developer's key, endpoint or cache."""
    for name in list(os.environ):
        if name.startswith("KUHU_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("KUHU_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))


@pytest.fixture(scope="session")
def capture_file(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Point ALSA (for this process and its children) at the capture rig."""
    from rig import make_capture_home

    home = tmp_path_factory.mktemp("alsa-home")
    path = make_capture_home(home)
    old = os.environ.get("HOME")
    os.environ["HOME"] = str(home)
    yield path
    if old is not None:
        os.environ["HOME"] = old


@pytest.fixture
def capture(capture_file: Path) -> object:
    """Bytes played through simpleaudio during this test (see tests/rig.py)."""
    from rig import Capture

    cap = Capture(capture_file)
    cap.mark()
    return cap


@pytest.fixture(scope="session")
def pulse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """The paced PulseAudio null-sink rig; fails in CI if it cannot start."""
    from rig import PulseRig

    if not PulseRig.available():
        if os.environ.get("CI"):
            pytest.fail("pulseaudio/parec missing: ./dev.sh test installs them")
        pytest.skip("pulseaudio not installed (./dev.sh test installs it)")
    rig = PulseRig(tmp_path_factory.mktemp("pulse"))
    rig.start()
    yield rig
    rig.stop()


class RemoteEmulator:
    """``python -m kuhu_driver.testing`` in its own process: its clock and threads are
    not slowed by ours, so its rate-limit counts measure our requests, not our GIL."""

    def __init__(self, url: str, key: str) -> None:
        self.url, self.key = url, key

    def env(self) -> dict[str, str]:
        return {"KUHU_API_KEY": self.key, "KUHU_API_URL": self.url, "KUHU_CACHE": "off"}

    def stats(self) -> dict[str, int]:
        import json
        import urllib.request

        from kuhu_driver.testing import STATS_PATH

        base = self.url.split("/api/")[0]
        with urllib.request.urlopen(base + STATS_PATH, timeout=10) as resp:
            data: dict[str, int] = json.load(resp)
        return data


@pytest.fixture
def remote_emulator(monkeypatch: pytest.MonkeyPatch) -> Iterator[RemoteEmulator]:
    import subprocess
    import sys

    proc = subprocess.Popen(
        [sys.executable, "-m", "kuhu_driver.testing"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    try:
        lines = [proc.stdout.readline() for _ in range(3)]
        env = dict(line.split()[1].split("=", 1) for line in lines[1:])
        emu = RemoteEmulator(env["KUHU_API_URL"], env["KUHU_API_KEY"])
        for name, value in emu.env().items():
            monkeypatch.setenv(name, value)
        yield emu
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        proc.stdout.close()
