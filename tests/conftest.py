"""Shared fixtures. The ``kuhu_emulator`` fixture comes from kuhu_driver's pytest plugin."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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
) -> Iterator[None]:
    """No test sees the developer's key, endpoint or cache, nor the default session
    (``speak()``'s connection and device) of the test before it."""
    for name in list(os.environ):
        if name.startswith("KUHU_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("KUHU_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
    # Nor the key the developer stored (kuhu-say --set-key), in a file or the keyring.
    monkeypatch.setenv("KUHU_CONFIG_DIR", str(tmp_path_factory.mktemp("config")))
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    keystore = sys.modules.get("kuhu_driver._keystore")
    if keystore is not None:
        keystore._found.clear()
    # Most tests check how failures surface; the local voice that covers them by
    # default is tested in test_fallback.py (and test_cli.py), which lift this.
    monkeypatch.setenv("KUHU_FALLBACK", "off")
    yield
    session_module = sys.modules.get("kuhu_driver.pipeline._session")
    if session_module is not None:
        session_module.close_default()


if sys.platform == "win32":

    @contextlib.contextmanager
    def _machine_turn(path: str, *, exclusive: bool) -> Iterator[None]:
        yield  # no flock on Windows, where ./dev.sh does not run

else:

    @contextlib.contextmanager
    def _machine_turn(path: str, *, exclusive: bool) -> Iterator[None]:
        """A turn on the machine, shared by every pytest that ``./dev.sh test`` runs side by
        side: a test marked ``timing`` runs alone (no other test of any process runs while
        it does), the others together. A turnstile lets a waiting ``timing`` test in before
        new shared turns begin, so it cannot be starved."""
        import fcntl

        with Path(path + ".turnstile").open("a+") as gate, Path(path).open("a+") as main:
            fcntl.flock(gate, fcntl.LOCK_EX)
            try:
                fcntl.flock(main, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            finally:
                if not exclusive:
                    fcntl.flock(gate, fcntl.LOCK_UN)
            try:
                yield
            finally:
                fcntl.flock(main, fcntl.LOCK_UN)
                if exclusive:
                    fcntl.flock(gate, fcntl.LOCK_UN)


@contextlib.contextmanager
def machine_busy(*, exclusive: bool = False) -> Iterator[None]:
    """Work that loads the CPU (a test, collecting tests, starting a sound server) takes a
    shared turn, a ``timing`` test an exclusive one, when ``./dev.sh test`` runs several
    test processes side by side (KUHU_TEST_LOCK); otherwise this does nothing."""
    path = os.environ.get("KUHU_TEST_LOCK")
    if not path:
        yield
        return
    with _machine_turn(path, exclusive=exclusive):
        yield


@pytest.fixture(autouse=True)
def _share_the_machine(request: pytest.FixtureRequest) -> Iterator[None]:
    """Timing tests measure what a listener hears (3 ms seams, 50 ms stops) and request
    rates: no other test process may load the CPU meanwhile."""
    with machine_busy(exclusive=request.node.get_closest_marker("timing") is not None):
        yield


_collecting = contextlib.ExitStack()


def pytest_collection(session: pytest.Session) -> None:
    """Importing and collecting the tests loads the CPU too: a shared turn until done."""
    _collecting.enter_context(machine_busy())


def pytest_collection_finish(session: pytest.Session) -> None:
    _collecting.close()


def pytest_sessionstart(session: pytest.Session) -> None:
    """CI's per-interpreter runs test the installed package, as users get it."""
    import kuhu_driver

    if os.environ.get("KUHU_EXPECT_INSTALLED") and "site-packages" not in kuhu_driver.__file__:
        raise pytest.UsageError(f"testing {kuhu_driver.__file__}, not the installed package")


@pytest.fixture(scope="session", autouse=True)
def _no_sound_server() -> None:
    """No test reaches a sound server it did not start (nor autospawns one)."""
    from rig import NO_PULSE

    os.environ["PULSE_SERVER"] = NO_PULSE


@pytest.fixture(scope="session")
def pulse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """The PulseAudio null-sink rig; fails in CI if it cannot start."""
    from rig import PulseRig

    if not PulseRig.available():
        if os.environ.get("CI"):
            pytest.fail("pulseaudio/parec missing: ./dev.sh test installs them")
        pytest.skip("pulseaudio not installed (./dev.sh test installs it)")
    rig = PulseRig(tmp_path_factory.mktemp("pulse"))
    with machine_busy():  # starting a sound server loads the CPU
        rig.start()
    yield rig
    with machine_busy():
        rig.stop()


@pytest.fixture(scope="session")
def capture_file(pulse: object) -> Path:
    """The exact, paced capture rig's file (``capture_env`` points ALSA at it)."""
    rig: Any = pulse
    return Path(rig.capture_file)


@pytest.fixture
def engine(kuhu_emulator: Any, capture: Any) -> Iterator[Any]:
    """A pyttsx3 engine on the kuhu driver, against the emulator, every byte it plays
    captured (``capture``); destroyed at the end, so no thread stays behind."""
    from pyttsx3.engine import Engine

    import kuhu_driver  # noqa: F401 - registers the driver without the .pth file

    eng = Engine("kuhu")
    yield eng
    eng.proxy._driver.destroy()


@pytest.fixture
def capture(capture_file: Path, pulse: object, monkeypatch: pytest.MonkeyPatch) -> object:
    """Bytes played to the audio device during this test (see tests/rig.py). ALSA points
    at the rig for this test only (HOME and XDG_RUNTIME_DIR, restored after it)."""
    from rig import Capture

    rig: Any = pulse
    for name in ("HOME", "XDG_RUNTIME_DIR"):  # what points ALSA at the capture rig
        monkeypatch.setenv(name, rig.capture_env[name])
    cap = Capture(capture_file)
    cap.mark()
    return cap


class RemoteEmulator:
    """``python -m kuhu_driver.testing`` in its own process: its clock and threads are
    not slowed by ours, so its rate-limit counts measure our requests, not our GIL."""

    def __init__(self, url: str, key: str) -> None:
        self.url, self.key = url, key

    def env(self) -> dict[str, str]:
        return {"KUHU_API_KEY": self.key, "KUHU_API_URL": self.url, "KUHU_CACHE": "off"}

    def stats(self) -> dict[str, Any]:
        from kuhu_driver.testing import read_stats

        return read_stats(self.url, self.key)


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
        from helpers import use_emulator

        from kuhu_driver.testing import read_banner

        env, _ = read_banner(proc.stdout)
        emu = RemoteEmulator(env["KUHU_API_URL"], env["KUHU_API_KEY"])
        use_emulator(monkeypatch, emu)
        yield emu
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        proc.stdout.close()


@pytest.fixture(scope="session")
def self_signed(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """A certificate and key for 127.0.0.1 that no authority signed."""
    from kuhu_driver.testing import self_signed

    return self_signed(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def trusted(self_signed: tuple[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The self-signed certificate is trusted by this process's code (never by a
    setting: see ``api._transport.trust_also``), for this test only."""
    from kuhu_driver.api import _transport

    monkeypatch.setattr(_transport, "_also_trusted", [self_signed[0]])
    yield
