"""The API key and secret stored once, for programs started without the user's shell
variables (Speech Dispatcher under a desktop session, GUI programs on every OS).

``kuhu-say --set-key`` stores them in the OS keyring (the ``keyring`` package: Windows
Credential Manager, macOS Keychain, Secret Service); where no keyring works, in a file
only the user can read, in the platform's config folder (``_config.config_dir``), with a
warning. A marker in that folder says which, so that a program whose environment has a
key, or that has never stored one, never imports ``keyring`` (it costs tens of ms, and
may talk to D-Bus). The folder and file are checked as every folder of ours is
(``_private``): ours, written by no one else, never reached through a link.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

from ._private import PrivateDir, UnsafeFolderError

logger = logging.getLogger(__name__)

SERVICE = "kuhu_driver"
#: In the config folder: where the key is (``keyring``), or the key itself (``file``).
MARKER = "key-location"
CREDENTIALS = "credentials.json"
_LIMIT = 64 * 1024


@dataclass(frozen=True)
class Stored:
    """A stored key (and secret), and where it was found, for ``--check``."""

    api_key: str = field(repr=False)
    api_secret: str | None = field(repr=False)
    where: str


def _folder(path: Path, *, create: bool) -> PrivateDir | None:
    if not create and not path.is_dir():
        return None
    return PrivateDir(path, create=create)


#: What ``stored_key`` found, by config folder: read once per process (a program that
#: speaks often asks each time it makes its settings; the keyring may be a D-Bus call).
_found: dict[Path, Stored | None] = {}


def stored_key(folder: Path) -> Stored | None:
    """The key stored by ``--set-key``, or None. A store that cannot be read (a folder
    planted by another user, a keyring that fails) is logged once and skipped."""
    if folder not in _found:
        _found[folder] = _read_stored(folder)
    return _found[folder]


def _read_stored(path: Path) -> Stored | None:
    try:
        folder = _folder(path, create=False)
        if folder is None:
            return None
        with folder:
            marker = _marker(folder)
            if marker == "file":
                data = json.loads(folder.read(CREDENTIALS, _LIMIT))
                key, secret = data.get("api_key"), data.get("api_secret")
                if isinstance(key, str) and key.strip():
                    where = f"a file only you can read ({folder.path / CREDENTIALS})"
                    return Stored(key.strip(), secret or None, where)
                return None
    except (OSError, ValueError, UnsafeFolderError) as exc:
        logger.warning("the stored key could not be read: %s", exc)
        return None
    return _from_keyring() if marker == "keyring" else None


def _marker(folder: PrivateDir) -> str:
    """Where the key was stored: "keyring", "file", or "" (nothing stored)."""
    if not folder.exists(MARKER):
        return ""
    return folder.read(MARKER, 64).decode("ascii").strip()


def _from_keyring() -> Stored | None:
    try:
        import keyring

        key = keyring.get_password(SERVICE, "api_key")
        secret = keyring.get_password(SERVICE, "api_secret")
        name = type(keyring.get_keyring()).__name__
    except Exception as exc:  # any backend's failure: the key is simply not there
        logger.warning("the OS keyring could not be read: %s", type(exc).__name__)
        return None
    if not key:
        return None
    return Stored(key.strip(), secret or None, f"the OS keyring ({name})")


def store_key(api_key: str, api_secret: str | None, path: Path) -> str:
    """Store the key (and secret) for every program of this user; where it went. In the
    OS keyring if one works, else in a file only the user can read (say so)."""
    if not api_key.strip():
        raise ValueError("the key is empty")
    _found.clear()
    with _folder(path, create=True) as folder:  # type: ignore[union-attr]
        where = _to_keyring(api_key.strip(), api_secret)
        if where is not None:
            folder.unlink(CREDENTIALS)  # an older store in the file goes
            folder.write_atomic(MARKER, b"keyring\n")
            return where
        data = {"api_key": api_key.strip(), "api_secret": api_secret or None}
        folder.write_atomic(CREDENTIALS, json.dumps(data).encode("utf-8"), sync=True)
        folder.write_atomic(MARKER, b"file\n")
        return f"a file only you can read ({folder.path / CREDENTIALS}): no OS keyring works here"


def _to_keyring(api_key: str, api_secret: str | None) -> str | None:
    try:
        import keyring
        from keyring.backends import fail

        backend = keyring.get_keyring()
        if isinstance(backend, fail.Keyring):
            return None
        keyring.set_password(SERVICE, "api_key", api_key)
        if api_secret:
            keyring.set_password(SERVICE, "api_secret", api_secret)
        else:
            _delete(keyring, "api_secret")
    except Exception as exc:  # no keyring, or one that refuses: the file serves
        logger.info("no OS keyring to store the key in: %s", type(exc).__name__)
        return None
    return f"the OS keyring ({type(backend).__name__})"


def _delete(keyring: object, name: str) -> None:
    try:
        keyring.delete_password(SERVICE, name)  # type: ignore[attr-defined]
    except Exception:  # not there: nothing to delete
        return


def forget_key(path: Path) -> list[str]:
    """Remove the stored key wherever it is; the places it was removed from."""
    removed: list[str] = []
    _found.clear()
    folder = _folder(path, create=False)
    if folder is None:
        return removed
    with folder:
        marker = _marker(folder)
        if marker == "keyring":
            try:
                import keyring

                _delete(keyring, "api_key")
                _delete(keyring, "api_secret")
                removed.append("the OS keyring")
            except Exception as exc:
                logger.warning("the OS keyring could not be changed: %s", type(exc).__name__)
        if folder.exists(CREDENTIALS):
            folder.unlink(CREDENTIALS)
            removed.append(str(folder.path / CREDENTIALS))
        folder.unlink(MARKER)
    return removed
