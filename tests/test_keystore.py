"""The key stored once (kuhu_driver/_keystore.py, ``kuhu-say --set-key``): in the OS
keyring when one works, else in a file only the user can read; used by kuhu-say,
pyttsx3 programs and the Speech Dispatcher module when no key is given; argument >
environment > stored; a folder planted by another user, or a link, is never used.

No Secret Service runs here: the keyring path is exercised through keyring's own
plug-in interface with a backend that keeps its passwords in a file
(``PYTHON_KEYRING_BACKEND``), the way keyring loads any backend."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from kuhu_driver import _keystore
from kuhu_driver._config import config_dir, resolve_settings
from kuhu_driver._private import UnsafeFolderError
from kuhu_driver.testing import KuhuEmulator

TESTS = Path(__file__).resolve().parent


def kuhu_say(*args: str, stdin: str = "", env: dict[str, str] | None = None) -> Any:
    return subprocess.run(
        [sys.executable, "-m", "kuhu_driver", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env or dict(os.environ),
        timeout=120,
    )


def test_set_key_without_a_keyring_writes_a_file_only_the_user_can_read() -> None:
    done = kuhu_say("--set-key", stdin="my-key-1234\nmy-secret\n")
    assert done.returncode == 0, done.stderr
    assert "no OS keyring works here" in done.stderr and "…1234" in done.stderr
    assert "my-key-1234" not in done.stderr + done.stdout  # never shown whole
    folder = Path(os.environ["KUHU_CONFIG_DIR"])
    cred = folder / _keystore.CREDENTIALS
    assert stat.S_IMODE(cred.stat().st_mode) == 0o600
    assert json.loads(cred.read_text()) == {"api_key": "my-key-1234", "api_secret": "my-secret"}
    _keystore._found.clear()
    settings = resolve_settings()
    assert (settings.api_key, settings.api_secret) == ("my-key-1234", "my-secret")
    assert "file only you can read" in settings.key_source
    check = kuhu_say("--check", "--no-request")
    assert "from a file only you can read" in check.stdout
    forgot = kuhu_say("--forget-key")
    assert "removed the stored key" in forgot.stderr and not cred.exists()


def test_an_argument_wins_over_the_environment_which_wins_over_the_stored_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _keystore.store_key("stored-key", "stored-secret", config_dir())
    assert resolve_settings().key_source.startswith("a file")
    monkeypatch.setenv("KUHU_API_KEY", "env-key")
    settings = resolve_settings()
    assert (settings.api_key, settings.key_source, settings.api_secret) == (
        "env-key",
        "KUHU_API_KEY",
        None,  # the stored secret goes with the stored key only
    )
    assert resolve_settings(api_key="arg-key").key_source == "argument"


def test_the_os_keyring_is_used_when_one_works(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = tmp_path / "keyring.json"
    monkeypatch.setenv("PYTHONPATH", str(TESTS))
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "file_keyring.FileKeyring")
    monkeypatch.setenv("KUHU_TEST_KEYRING", str(store))
    done = kuhu_say("--set-key", stdin="ring-key-9876\n\n")
    assert done.returncode == 0, done.stderr
    assert "the OS keyring (FileKeyring)" in done.stderr and "warning" not in done.stderr
    assert json.loads(store.read_text()) == {"kuhu_driver/api_key": "ring-key-9876"}
    folder = Path(os.environ["KUHU_CONFIG_DIR"])
    assert not (folder / _keystore.CREDENTIALS).exists()  # the key is not in a file of ours
    check = kuhu_say("--check", "--no-request")
    assert "…9876), from the OS keyring (FileKeyring)" in check.stdout
    kuhu_say("--forget-key")
    assert json.loads(store.read_text()) == {}


def test_a_config_folder_another_user_planted_is_never_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    if sys.platform == "win32" or os.getuid() != 0:
        if os.environ.get("CI"):
            pytest.fail("this test plants another user's folder: CI runs it as root")
        pytest.skip("planting another user's folder needs root")
    planted = tmp_path / "planted"
    planted.mkdir(mode=0o777)
    (planted / _keystore.MARKER).write_text("file\n")
    (planted / _keystore.CREDENTIALS).write_text('{"api_key": "the-attackers-key"}')
    os.chown(planted, 65534, 65534)  # nobody's
    monkeypatch.setenv("KUHU_CONFIG_DIR", str(planted))
    _keystore._found.clear()
    assert resolve_settings(require_key=False).api_key == ""
    assert "could not be read" in caplog.text
    with pytest.raises(UnsafeFolderError):
        _keystore.store_key("mine", None, config_dir())
    # A link to a folder of ours is refused too: it could be pointed elsewhere later.
    real = tmp_path / "real"
    real.mkdir(mode=0o700)
    link = tmp_path / "link"
    link.symlink_to(real)
    monkeypatch.setenv("KUHU_CONFIG_DIR", str(link))
    with pytest.raises(UnsafeFolderError):
        _keystore.store_key("mine", None, config_dir())
    assert list(real.iterdir()) == []


def test_the_stored_key_is_used_by_kuhu_say_and_by_pyttsx3_programs(
    kuhu_emulator: KuhuEmulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    kuhu_say("--set-key", stdin=f"{kuhu_emulator.api_key}\n\n")
    monkeypatch.delenv("KUHU_API_KEY")
    out = tmp_path / "x.wav"
    said = kuhu_say("--out", str(out), "存好的钥匙。")
    assert said.returncode == 0, said.stderr
    program = (
        "import pyttsx3, kuhu_driver\n"
        "e = pyttsx3.init('kuhu')\n"
        f"e.save_to_file('引擎也用它。', {str(tmp_path / 'y.wav')!r})\n"
        "e.runAndWait()\n"
    )
    ran = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=60
    )
    assert ran.returncode == 0, ran.stderr
    assert [r.text for r in kuhu_emulator.requests] == ["存好的钥匙。", "引擎也用它。"]
    assert all(r.outcome == "ok" for r in kuhu_emulator.requests)
