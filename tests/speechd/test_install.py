"""``kuhu-say --install-speechd`` / ``--uninstall-speechd`` (kuhu_driver/speechd/_install.py):
the module and its config where Speech Dispatcher finds a user's modules, written
safely; removed again, and only what kuhu-say wrote. That the server finds and runs it
is test_server.py's."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from kuhu_driver._private import UnsafeFolderError
from kuhu_driver.speechd import install_module, uninstall_module


def env_for(home: Path) -> dict[str, str]:
    return {"HOME": str(home)}


def test_install_writes_the_module_and_its_config_and_uninstall_removes_them(
    tmp_path: Path,
) -> None:
    env = env_for(tmp_path)
    told = install_module(env)
    module = tmp_path / ".local/libexec/speech-dispatcher-modules/sd_kuhu"
    conf = tmp_path / ".config/speech-dispatcher/modules/kuhu.conf"
    assert any("spd-say -o kuhu" in line for line in told)
    assert any("Orca" in line for line in told)
    assert stat.S_IMODE(module.stat().st_mode) == 0o700
    assert stat.S_IMODE(conf.stat().st_mode) == 0o600
    assert (tmp_path / ".local/share").is_dir()  # the server finds modules from there
    # The script runs this Python's module: it speaks the protocol.
    ran = subprocess.run(
        [str(module)], input=b"INIT\nQUIT\n", capture_output=True, timeout=60, env=os.environ
    )
    assert ran.stdout.splitlines()[-1] == b"210 OK QUIT"
    assert sys.executable.encode() in module.read_bytes()
    done = uninstall_module(env)
    assert done == [f"removed {module}", f"removed {conf}"]
    assert not module.exists() and not conf.exists()
    assert uninstall_module(env) == ["the Speech Dispatcher module was not installed"]


def test_a_file_kuhu_say_did_not_write_is_left_alone(tmp_path: Path) -> None:
    folder = tmp_path / ".local/libexec/speech-dispatcher-modules"
    folder.mkdir(parents=True, mode=0o700)
    (folder / "sd_kuhu").write_text("#!/bin/sh\n# someone else's module\n")
    assert uninstall_module(env_for(tmp_path))[0].startswith("left ")
    assert (folder / "sd_kuhu").exists()


def test_a_planted_link_is_replaced_never_followed(tmp_path: Path) -> None:
    folder = tmp_path / ".local/libexec/speech-dispatcher-modules"
    folder.mkdir(parents=True, mode=0o700)
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    (folder / "sd_kuhu").symlink_to(victim)
    install_module(env_for(tmp_path))
    assert victim.read_text() == "precious\n"
    assert not (folder / "sd_kuhu").is_symlink()


def test_a_folder_another_user_made_is_refused(tmp_path: Path) -> None:
    if sys.platform == "win32" or os.getuid() != 0:
        if os.environ.get("CI"):
            pytest.fail("this test plants another user's folder: CI runs it as root")
        pytest.skip("planting another user's folder needs root")
    folder = tmp_path / ".local/libexec/speech-dispatcher-modules"
    folder.mkdir(parents=True, mode=0o777)
    os.chown(folder, 65534, 65534)
    with pytest.raises(UnsafeFolderError):
        install_module(env_for(tmp_path))
    assert list(folder.iterdir()) == []
    said = subprocess.run(
        [sys.executable, "-m", "kuhu_driver", "--install-speechd"],
        env={**os.environ, "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert said.returncode == 1 and "another user" in said.stderr
    assert "Traceback" not in said.stderr
