"""kuhu-say --check against the emulator: each way a first setup goes wrong, its exit code
and its one-line fix; and, when all is well, the probe really heard on the device."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from helpers import use_emulator
from rig import nonzero

from kuhu_driver.api import DEFAULT_VOICE
from kuhu_driver.cli import PROBE_TEXT, check_setup, main
from kuhu_driver.testing import KuhuEmulator

#: Every check may play its probe: the device is the capture rig in every test.
pytestmark = pytest.mark.usefixtures("capture")


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["--check", *args])
    return code, capsys.readouterr().out


def line(out: str, topic: str) -> str:
    """The report line of ``topic``, with its fix line if it has one."""
    lines = out.splitlines()
    for i, text in enumerate(lines):
        if text[5:].startswith(topic + " "):
            fix = lines[i + 1] if i + 1 < len(lines) and "->" in lines[i + 1] else ""
            return text + "\n" + fix
    raise AssertionError(f"no {topic!r} line in:\n{out}")


def test_all_good_shows_the_setup_and_plays_the_probe(
    kuhu_emulator: KuhuEmulator, capture: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run(capsys, "--yes")
    assert code == 0, out
    key = kuhu_emulator.api_key
    assert key not in out
    assert f"ends in …{key[-4:]}" in line(out, "key")
    assert "not set" in line(out, "secret")
    assert kuhu_emulator.url in line(out, "endpoint")
    assert line(out, "audio").startswith("ok")
    assert "raw PCM" in line(out, "answer")
    assert "HTTP 200" in line(out, "answer")
    assert "22050 Hz" in line(out, "answer")
    assert line(out, "playback").startswith("ok")
    assert out.rstrip().endswith("all good")
    (req,) = kuhu_emulator.requests
    assert req.text == PROBE_TEXT
    assert req.billed == 2
    probe = kuhu_emulator.render(PROBE_TEXT, voice=DEFAULT_VOICE.id)
    assert capture.read() == nonzero(probe)  # the device really played the answer


def test_no_request_sends_nothing(
    kuhu_emulator: KuhuEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run(capsys, "--no-request")
    assert code == 0, out
    assert "not sent (--no-request)" in out
    assert kuhu_emulator.requests == []


def test_no_key(
    kuhu_emulator: KuhuEmulator,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("KUHU_API_KEY")
    code, out = run(capsys, "--yes")
    assert code == 1
    assert "FAIL" in line(out, "key") and "set KUHU_API_KEY" in line(out, "key")
    assert kuhu_emulator.requests == []


def test_wrong_key(
    kuhu_emulator: KuhuEmulator,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KUHU_API_KEY", "wrong-key-9999")
    code, out = run(capsys, "--yes")
    assert code == 1
    assert line(out, "reachable").startswith("ok")
    accepted = line(out, "key accepted")
    assert accepted.startswith("FAIL") and "403" in accepted
    assert "check KUHU_API_KEY" in accepted
    assert "wrong-key-9999" not in out
    assert len(kuhu_emulator.requests) == 1  # not retried


def test_signing_on_but_no_secret(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with KuhuEmulator(api_secret="console-secret") as emu:
        use_emulator(monkeypatch, emu)
        monkeypatch.delenv("KUHU_API_SECRET", raising=False)
        code, out = run(capsys, "--yes")
        assert code == 1
        accepted = line(out, "key accepted")
        assert "set KUHU_API_SECRET" in accepted
        monkeypatch.setenv("KUHU_API_SECRET", "console-secret")
        code, out = run(capsys, "--yes")
        assert code == 0, out
        assert "and the signature" in line(out, "key accepted")
        assert "console-secret" not in out


def test_dead_endpoint(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUHU_API_KEY", "some-key-1234")
    monkeypatch.setenv("KUHU_API_URL", "http://127.0.0.1:9/api/ai/audiosave")
    code, out = run(capsys, "--yes")
    assert code == 1
    reach = line(out, "reachable")
    assert reach.startswith("FAIL") and "refused the connection" in reach
    assert "-> check the network" in reach


def test_unknown_host_is_called_a_dns_failure(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUHU_API_KEY", "some-key-1234")
    monkeypatch.setenv("KUHU_API_URL", "https://no-such-host.invalid/api/ai/audiosave")
    code, out = run(capsys, "--yes")
    assert code == 1
    assert "(DNS)" in line(out, "reachable")


def test_self_signed_tls(
    self_signed: tuple[str, str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cert, key = self_signed
    with KuhuEmulator(tls_cert=cert, tls_key=key) as emu:
        use_emulator(monkeypatch, emu)
        code, out = run(capsys, "--yes")
        assert emu.requests == []  # nothing reached the server
    assert code == 1
    reach = line(out, "reachable")
    assert reach.startswith("FAIL") and "could not be verified" in reach
    assert "clock" in reach


def test_no_audio_device(kuhu_emulator: KuhuEmulator, tmp_path: Path) -> None:
    # In a process of its own, with a home without the capture rig's ALSA settings
    # (ALSA reads them once per process): no sound card, and PULSE_SERVER points nowhere.
    proc = subprocess.run(
        [sys.executable, "-m", "kuhu_driver", "--check", "--yes"],
        env={**os.environ, "HOME": str(tmp_path), "XDG_RUNTIME_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    out = proc.stdout
    assert proc.returncode == 1, out + proc.stderr
    audio = line(out, "audio")
    assert audio.startswith("FAIL") and "could not open the audio device" in audio
    assert "--out" in audio
    assert line(out, "answer").startswith("ok")  # the API side is still checked


def test_without_a_terminal_the_request_needs_yes(kuhu_emulator: KuhuEmulator) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "kuhu_driver", "--check"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1
    assert "0.0002 yuan" in proc.stderr and "add --yes" in proc.stderr
    assert "not confirmed" in proc.stdout
    assert kuhu_emulator.requests == []


def test_the_python_function_asks_before_sending(kuhu_emulator: KuhuEmulator) -> None:
    asked: list[str] = []

    def decline(question: str) -> bool:
        asked.append(question)
        return False

    report = check_setup(confirm=decline, play=False)
    assert not report.ok
    assert asked and "2 billed characters, 0.0002 yuan" in asked[0]
    assert kuhu_emulator.requests == []
