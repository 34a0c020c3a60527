"""Settings, resolved in one place: explicit argument > ``KUHU_*`` environment > default."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ConfigError

DEFAULT_API_URL = "https://api.kuhuyun.com/api/ai/audiosave"
DEFAULT_CACHE_MAX_BYTES = 200 * 1024 * 1024
#: Seconds one attempt may take, from connecting to the answer's last byte (KUHU_TIMEOUT).
DEFAULT_TIMEOUT = 30.0
#: Seconds one piece may take, every attempt and wait between them included (KUHU_DEADLINE).
DEFAULT_DEADLINE = 60.0
#: Largest utterance we will pay for without being told (KUHU_MAX_BILLED): 20 yuan.
DEFAULT_MAX_BILLED = 200_000
#: Seconds a piece that playback needs may wait for the cloud before the local voice
#: speaks it (KUHU_CLOUD_WAIT), however slow the server has lately been.
DEFAULT_CLOUD_WAIT = 2.5
#: KUHU_AUDIO's values: "auto" is miniaudio, or simpleaudio when miniaudio is missing.
AUDIO_BACKENDS = ("auto", "miniaudio", "simpleaudio")
#: KUHU_FALLBACK's values.
FALLBACKS = ("local", "always", "off")
_OFF = {"0", "off", "false", "no", "none", "disabled"}
_ON = {"", "1", "on", "true", "yes", "enabled"}


def default_cache_dir(env: Mapping[str, str] | None = None) -> Path:
    """The user's cache folder for kuhu_driver, by platform convention."""
    env = os.environ if env is None else env
    if sys.platform == "win32":
        base = env.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
        return Path(base) / "kuhu_driver" / "Cache"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "kuhu_driver"
    base = env.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "kuhu_driver"


def config_dir(env: Mapping[str, str] | None = None) -> Path:
    """The user's config folder for kuhu_driver (where the key stored once lives: see
    ``_keystore``): ``KUHU_CONFIG_DIR``, else by platform convention."""
    env = os.environ if env is None else env
    if env.get("KUHU_CONFIG_DIR"):
        return Path(env["KUHU_CONFIG_DIR"]).expanduser()
    if sys.platform == "win32":
        base = env.get("APPDATA") or str(Path.home() / "AppData" / "Roaming")
        return Path(base) / "kuhu_driver"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "kuhu_driver"
    return Path(env.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")) / "kuhu_driver"


@dataclass(frozen=True)
class Settings:
    """Resolved settings. The key and secret are kept out of ``repr``."""

    api_key: str = field(repr=False)
    api_secret: str | None = field(repr=False)
    api_url: str
    cache_dir: Path | None
    cache_max_bytes: int
    timeout: float = DEFAULT_TIMEOUT
    deadline: float = DEFAULT_DEADLINE
    max_billed: int = DEFAULT_MAX_BILLED
    #: Audio backend (KUHU_AUDIO): "auto" (miniaudio, else simpleaudio), or one by name.
    audio: str = "auto"
    #: When the cloud cannot answer (KUHU_FALLBACK): "local" speaks with the platform's
    #: voice (files still fail), "always" also writes files with it, "off" never.
    fallback: str = "local"
    #: The longest wait for the cloud before the local voice speaks (KUHU_CLOUD_WAIT).
    cloud_wait: float = DEFAULT_CLOUD_WAIT
    #: The HTTP proxy (KUHU_PROXY): a URL, "none", or None for the system's (``api._proxy``).
    proxy: str | None = field(default=None, repr=False)
    #: Where the key came from: "argument", "KUHU_API_KEY", the store (``_keystore``), "".
    key_source: str = ""


def missing_key_error() -> ConfigError:
    return ConfigError(
        "no API key: set the KUHU_API_KEY environment variable (console → 密钥管理), "
        "or pass api_key=...; to try without a key, use the emulator (kuhu-say --emulator)"
    )


def resolve_settings(
    *,
    api_key: str | None = None,
    api_secret: str | None = None,
    api_url: str | None = None,
    cache: bool | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    cache_max_bytes: int | None = None,
    timeout: float | None = None,
    deadline: float | None = None,
    max_billed: int | None = None,
    audio: str | None = None,
    fallback: str | None = None,
    cloud_wait: float | None = None,
    proxy: str | None = None,
    env: Mapping[str, str] | None = None,
    require_key: bool = True,
) -> Settings:
    """Resolve every setting once; raise :class:`ConfigError` naming what is missing.

    ``require_key=False`` lets the key be missing (speech then falls back to the local
    voice, see ``KUHU_FALLBACK``); ``speech_settings`` decides that for speaking.
    """
    env = os.environ if env is None else env
    key, secret, key_source = _credentials(api_key, api_secret, env)
    if not key and require_key:
        raise missing_key_error()
    url = api_url if api_url is not None else env.get("KUHU_API_URL") or DEFAULT_API_URL
    if cache is None:
        cache = _switch(env, "KUHU_CACHE")
    folder: Path | None = None
    if cache:
        raw_dir = cache_dir if cache_dir is not None else env.get("KUHU_CACHE_DIR")
        folder = Path(raw_dir).expanduser() if raw_dir else default_cache_dir(env)
    if cache_max_bytes is None:
        cache_max_bytes = _megabytes(env, "KUHU_CACHE_MAX_MB", DEFAULT_CACHE_MAX_BYTES)
    if timeout is None:
        timeout = _positive(env, "KUHU_TIMEOUT", DEFAULT_TIMEOUT, float)
    if deadline is None:
        deadline = _positive(env, "KUHU_DEADLINE", DEFAULT_DEADLINE, float)
    if max_billed is None:
        max_billed = int(_positive(env, "KUHU_MAX_BILLED", DEFAULT_MAX_BILLED, int))
    audio = _choice(env, "KUHU_AUDIO", audio, AUDIO_BACKENDS)
    fallback = _choice(env, "KUHU_FALLBACK", fallback, FALLBACKS)
    if cloud_wait is None:
        cloud_wait = _positive(env, "KUHU_CLOUD_WAIT", DEFAULT_CLOUD_WAIT, float)
    proxy = (proxy if proxy is not None else env.get("KUHU_PROXY", "")).strip() or None
    if proxy is not None and proxy.lower() not in DIRECT:
        parse_proxy(proxy)  # a bad one is a ConfigError now, not at the first request
    return Settings(
        api_key=key,
        api_secret=secret,
        api_url=url,
        cache_dir=folder,
        cache_max_bytes=cache_max_bytes,
        timeout=timeout,
        deadline=deadline,
        max_billed=max_billed,
        audio=audio,
        fallback=fallback,
        cloud_wait=cloud_wait,
        proxy=proxy,
        key_source=key_source,
    )


def _credentials(
    api_key: str | None, api_secret: str | None, env: Mapping[str, str]
) -> tuple[str, str | None, str]:
    """Key, secret and where the key came from: an argument > ``KUHU_API_KEY`` > the
    key stored by ``kuhu-say --set-key`` (with its secret, unless one is given)."""
    key = api_key if api_key is not None else env.get("KUHU_API_KEY", "")
    if not isinstance(key, str):
        raise TypeError("api_key must be a string")
    key = key.strip()
    source = ("argument" if api_key is not None else "KUHU_API_KEY") if key else ""
    secret = api_secret if api_secret is not None else env.get("KUHU_API_SECRET") or None
    if not key and api_key is None:
        from ._keystore import stored_key  # only when no key is given: no cost otherwise

        stored = stored_key(config_dir(env))
        if stored is not None:
            key, source = stored.api_key, stored.where
            secret = secret or stored.api_secret
    return key, secret, source


def _switch(env: Mapping[str, str], name: str) -> bool:
    """An on/off setting (on unless set): a word that is neither is an error, not "on"."""
    raw = env.get(name, "on").strip().lower()
    if raw not in _ON | _OFF:
        raise ConfigError(f"{name} must be on or off, not {_shown(raw)}")
    return raw in _ON


def _choice(env: Mapping[str, str], name: str, given: str | None, choices: tuple[str, ...]) -> str:
    """One of ``choices`` (the first is the default), given or from ``env[name]``."""
    value = (given if given is not None else env.get(name, "")).strip().lower() or choices[0]
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}, not {_shown(value)}")
    return value


def _shown(value: str) -> str:
    """A setting's value as an error names it: quoted (control characters escaped) and
    cut short, so that a pasted document is not echoed whole."""
    return repr(value) if len(value) <= 40 else f"{value[:40]!r}... ({len(value)} characters)"


def _positive(env: Mapping[str, str], name: str, default: float, kind: type) -> float:
    raw = env.get(name)
    if not raw:
        return default
    try:
        value = float(kind(raw))
    except ValueError:
        raise ConfigError(f"{name} must be a positive number, not {_shown(raw)}") from None
    if not value > 0 or value == float("inf"):
        raise ConfigError(f"{name} must be a positive number, not {_shown(raw)}")
    return value


def _megabytes(env: Mapping[str, str], name: str, default: int) -> int:
    """A size in megabytes (0 or more; 0 turns the bound's owner off) as bytes."""
    raw = env.get(name)
    if not raw:
        return default
    try:
        mb = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number of megabytes, not {_shown(raw)}") from None
    if not 0 <= mb < float("inf"):
        raise ConfigError(f"{name} must be 0 or more megabytes, not {_shown(raw)}")
    return int(mb * 1024 * 1024)


def speech_settings(**kw: object) -> Settings:
    """Settings for speaking: a missing key is an error only with ``KUHU_FALLBACK=off``,
    since the local voice can speak without one."""
    settings = resolve_settings(require_key=False, **kw)  # type: ignore[arg-type]
    if not settings.api_key and settings.fallback == "off":
        raise missing_key_error()
    return settings


#: ``KUHU_PROXY`` values that mean a direct connection, whatever the system says.
DIRECT = ("none", "off", "direct")


@dataclass(frozen=True)
class Proxy:
    """An HTTP proxy; ``auth`` kept out of ``repr`` and of every message."""

    host: str
    port: int
    auth: tuple[str, str] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        """The proxy's URL, without its credentials."""
        return f"http://{self.host}:{self.port}"

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


def parse_proxy(value: str, origin: str = "KUHU_PROXY") -> Proxy:
    """``http://[user:password@]host[:port]`` as a :class:`Proxy`; :class:`ConfigError`
    naming ``origin`` otherwise (never echoing a password)."""
    from urllib.parse import unquote, urlsplit

    try:
        parts = urlsplit(value.strip())
        port = parts.port or 80
    except ValueError:
        parts, port = None, 0
    if parts is None or parts.scheme.lower() != "http" or not parts.hostname or port <= 0:
        shown = f"{parts.scheme}://{parts.hostname}" if parts and parts.hostname else "it"
        raise ConfigError(
            f"{origin} must be an http:// proxy (http://host:port, user:password@ if it "
            f"asks) or none; {shown} is not one"
        )
    auth = None
    if parts.username is not None:
        auth = (unquote(parts.username), unquote(parts.password or ""))
    return Proxy(parts.hostname, port, auth)
