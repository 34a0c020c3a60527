"""kuhu-say's one-time setup commands: ``--set-key`` and ``--forget-key`` (the key
stored once, see ``_keystore``), ``--install-speechd`` and ``--uninstall-speechd`` (the
Speech Dispatcher module, see ``speechd._install``)."""

from __future__ import annotations

import getpass
import os
import sys
from collections.abc import Callable

from .._config import config_dir
from .._keystore import forget_key, store_key
from ._output import shown, tell

#: How a prompt is answered: getpass (never echoed), or a line of a pipe.
Ask = Callable[[str], str]


def _ask_hidden(prompt: str) -> str:
    if sys.stdin.isatty():
        return getpass.getpass(prompt, stream=sys.stderr)
    return sys.stdin.readline().rstrip("\r\n")  # a pipe: nothing to echo


def set_key(ask: Ask = _ask_hidden) -> int:
    """Ask for the key and the secret (never echoed, never on a command line) and
    store them for every program of this user."""
    key = ask("API key (console → 密钥管理): ").strip()
    if not key:
        tell("kuhu-say: error: no key given; nothing stored")
        return 1
    secret = ask("signing secret (Enter if signing is off): ").strip() or None
    where = store_key(key, secret, config_dir())
    tell(f"stored the key (ends in …{key[-4:]}) in {shown(where, quote=False)}")
    if "file" in where:
        tell(
            "kuhu-say: warning: no OS keyring works here, so the key is in a file that "
            "only your account can read; kuhu-say --forget-key removes it"
        )
    tell("it is used when KUHU_API_KEY is not set; kuhu-say --check says where a key came from")
    return 0


def forget() -> int:
    removed = forget_key(config_dir())
    if removed:
        tell(f"removed the stored key from {', '.join(shown(r, quote=False) for r in removed)}")
    else:
        tell("no key was stored")
    return 0


def install_speechd(*, remove: bool = False) -> int:
    from ..speechd import install_module, uninstall_module

    if remove:
        for line in uninstall_module():
            tell(line)
        return 0
    for line in install_module(os.environ):
        tell(line)
    return 0


def run(command: str) -> int:
    """One of the setup commands by its option's name (``set_key``…); a folder or file
    we cannot use safely, or at all, is one line on stderr."""
    try:
        if command == "set_key":
            return set_key()
        if command == "forget_key":
            return forget()
        return install_speechd(remove=command == "uninstall_speechd")
    except OSError as exc:  # UnsafeFolderError (a planted folder) included
        tell(f"kuhu-say: error: {shown(str(exc), quote=False)}")
        return 1
