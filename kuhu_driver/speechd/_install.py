"""``kuhu-say --install-speechd``: the module put where Speech Dispatcher's auto-detection
finds a user's modules, without root: ``~/.local/libexec/speech-dispatcher-modules/sd_kuhu``
(a two-line script running this Python's ``sd_kuhu``) and its config file in
``~/.config/speech-dispatcher/modules/kuhu.conf``. Both are written as every file of
ours is: into folders that are the user's and no one else may write, never through a
planted link, whole or not at all. ``--uninstall-speechd`` removes only files it wrote.
"""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Mapping
from pathlib import Path

from .._private import PrivateDir, make_private_dirs

MODULE = "sd_kuhu"
CONFIG = "kuhu.conf"
#: The first comment of each file written: ours, so ours to remove.
OURS = "# kuhu_driver's Speech Dispatcher module (kuhu-say --install-speechd)"


def module_dir(env: Mapping[str, str]) -> Path:
    """``$XDG_DATA_HOME/../libexec/speech-dispatcher-modules``, where the server looks."""
    return data_dir(env).parent / "libexec" / "speech-dispatcher-modules"


def data_dir(env: Mapping[str, str]) -> Path:
    home = Path(env.get("HOME") or Path.home())
    return Path(env["XDG_DATA_HOME"]) if env.get("XDG_DATA_HOME") else home / ".local" / "share"


def config_dir(env: Mapping[str, str]) -> Path:
    home = Path(env.get("HOME") or Path.home())
    base = Path(env["XDG_CONFIG_HOME"]) if env.get("XDG_CONFIG_HOME") else home / ".config"
    return base / "speech-dispatcher" / "modules"


def _script() -> bytes:
    python = shlex.quote(sys.executable)
    return (
        f"#!/bin/sh\n{OURS}\n# Remove it with: kuhu-say --uninstall-speechd\n"
        f'exec {python} -m kuhu_driver.speechd "$@"\n'
    ).encode()


_CONF = f"""{OURS}
# The module reads no setting here. Its key: kuhu-say --set-key (the server starts it
# without your shell's variables). Its voice: spd-say -o kuhu -y 小婉, or Orca's
# preferences; rate, pitch and volume come from the client, as for every module.
""".encode()


def _write(folder: PrivateDir, name: str, data: bytes, mode: int) -> None:
    fd, tmp = folder.create_temp(f".{name}.")
    try:
        if sys.platform != "win32":  # (never called there: Speech Dispatcher is Linux's)
            os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        folder.replace(tmp, name)
    except BaseException:
        folder.unlink(tmp)
        raise


def install_module(env: Mapping[str, str] | None = None) -> list[str]:
    """Install the module for this user; what to tell them."""
    env = os.environ if env is None else env
    if sys.platform in ("win32", "darwin"):
        return ["Speech Dispatcher is Linux's speech server: there is nothing to install here"]
    with PrivateDir(module_dir(env)) as folder:
        _write(folder, MODULE, _script(), 0o700)
        where = folder.path / MODULE
    # The server finds user modules at $XDG_DATA_HOME/../libexec: a path that it
    # resolves only if that data folder (~/.local/share) exists.
    make_private_dirs(data_dir(env))
    with PrivateDir(config_dir(env)) as folder:
        _write(folder, CONFIG, _CONF, 0o600)
    return [
        f"installed the Speech Dispatcher module: {where}",
        "try it: spd-say -o kuhu '你好'  (a running server finds it once restarted: "
        "it exits by itself 5 s after its last client, or: killall speech-dispatcher)",
        "in Orca: Preferences → Voice → Speech synthesizer: kuhu",
        "the module needs your key stored once: kuhu-say --set-key",
    ]


def uninstall_module(env: Mapping[str, str] | None = None) -> list[str]:
    """Remove what ``install_module`` wrote (and nothing else); what was done."""
    env = os.environ if env is None else env
    done = []
    for path, name in ((module_dir(env), MODULE), (config_dir(env), CONFIG)):
        if not path.is_dir():
            continue
        with PrivateDir(path, create=False) as folder:
            if not folder.exists(name):
                continue
            try:
                head = folder.read(name, 4096)
            except (OSError, ValueError):
                done.append(f"left {path / name}: not a file kuhu-say wrote")
                continue
            if OURS.encode() not in head:
                done.append(f"left {path / name}: not a file kuhu-say wrote")
                continue
            folder.unlink(name)
            done.append(f"removed {path / name}")
    return done or ["the Speech Dispatcher module was not installed"]
