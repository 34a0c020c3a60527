"""Checking what will be sent: request parameters and the endpoint URL."""

from __future__ import annotations

import hashlib
import ipaddress
import math
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit, urlunsplit

from .._model import FORMATS, SAMPLE_RATES, Request, Voicing
from .._text import MAX_BILLED_PER_REQUEST, billed_chars, clean_text
from ..errors import ConfigError
from ._voices import DEFAULT_VOICE, resolve_voice_id


def _number(name: str, value: object, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number, not {type(value).__name__}")
    x = float(value)
    if not math.isfinite(x) or not low <= x <= high:
        raise ValueError(f"{name} must be between {low:g} and {high:g}, not {value!r}")
    return x


def build_request(
    text: str,
    *,
    voice: str = DEFAULT_VOICE.id,
    format: str = "pcm",
    sample_rate: int = 22050,
    volume: float = 50,
    rate: float = 1.0,
    pitch: float = 1.0,
) -> Request:
    """Check every parameter (``TypeError``/``ValueError``): nothing invalid is ever sent."""
    text = clean_text(text)
    billed = billed_chars(text)
    if billed > MAX_BILLED_PER_REQUEST:
        raise ValueError(
            f"text bills {billed} characters; one request takes at most "
            f"{MAX_BILLED_PER_REQUEST} (the driver and speak() split long text for you)"
        )
    if format not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {format!r}")
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, int):
        raise TypeError(f"sample_rate must be an int, not {type(sample_rate).__name__}")
    if sample_rate not in SAMPLE_RATES:
        raise ValueError(
            f"sample_rate must be one of {', '.join(map(str, SAMPLE_RATES))}, not {sample_rate}"
        )
    voicing = Voicing(
        voice=resolve_voice_id(voice),
        volume=round(_number("volume", volume, 0, 100)),
        rate=_number("rate", rate, 0.5, 2),
        pitch=_number("pitch", pitch, 0.5, 2),
        sample_rate=sample_rate,
    )
    return Request(text=text, voicing=voicing, format=format)


def piece_request(text: str, voicing: Voicing, format: str) -> Request:
    """The request for one piece of a text that was cleaned and split already, spoken
    with a ``voicing`` that was checked where it was made (``pipeline.Properties``):
    only what a piece adds is checked here, its billed size and the format."""
    req = Request(text=text, voicing=voicing, format=format)
    if req.billed > MAX_BILLED_PER_REQUEST:
        raise ValueError(
            f"a piece bills {req.billed} characters; one request takes at most "
            f"{MAX_BILLED_PER_REQUEST}"
        )
    if format not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {format!r}")
    return req


def request_for(text: str, voicing: Voicing, format: str) -> Request:
    """:func:`build_request` for a text spoken with ``voicing`` (everything checked)."""
    return build_request(
        text,
        voice=voicing.voice,
        format=format,
        sample_rate=voicing.sample_rate,
        volume=voicing.volume,
        rate=voicing.rate,
        pitch=voicing.pitch,
    )


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Endpoint:
    """A checked endpoint URL."""

    url: str
    host: str

    @property
    def bare(self) -> str:
        """The URL without its user and password: what httpx is given (it logs the URL it
        sends to at INFO), the credentials going in ``basic_auth`` instead."""
        parts = urlsplit(self.url)
        if parts.username is None and parts.password is None:
            return self.url
        return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))

    @property
    def basic_auth(self) -> str | None:
        """The ``Authorization`` header value for a user and password in the URL."""
        import base64
        from urllib.parse import unquote

        parts = urlsplit(self.url)
        if parts.username is None and parts.password is None:
            return None
        pair = f"{unquote(parts.username or '')}:{unquote(parts.password or '')}"
        return "Basic " + base64.b64encode(pair.encode("utf-8")).decode("ascii")

    def __str__(self) -> str:
        """The URL for logs and messages: a user and password in it are hidden."""
        parts = urlsplit(self.url)
        if parts.username is None and parts.password is None:
            return self.url
        netloc = "***@" + parts.netloc.rpartition("@")[2]
        return urlunsplit(parts._replace(netloc=netloc))


def check_url(url: str) -> Endpoint:
    """An endpoint we will talk to: https, or plain http on loopback only (the emulator).

    Spaces around it are dropped; a space or control character inside is an error."""
    if not isinstance(url, str):
        raise ConfigError("the API URL (KUHU_API_URL) must be a string")
    url = url.strip()
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        raise ConfigError("the API URL (KUHU_API_URL) contains a space, tab or control character")
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except (ValueError, TypeError, AttributeError) as exc:
        raise ConfigError("the API URL is not a valid URL") from exc
    if parts.scheme == "https" and host:
        return Endpoint(url, host)
    if parts.scheme == "http" and _is_loopback(host):
        return Endpoint(url, host)
    raise ConfigError(
        f"refusing {parts.scheme or 'a schemeless'} URL for host {host or '?'}: "
        "the API must be reached over https (plain http is allowed only for a local "
        "emulator on 127.0.0.1 or localhost)"
    )


_CONTENT_TYPE = "application/x-www-form-urlencoded;charset=utf-8"


class HiddenForm(bytes):
    """A request's form (it holds the key): bytes whose ``repr`` tells only its size."""

    def __repr__(self) -> str:
        return f"<form of {len(self)} bytes, not shown: it holds the key>"

    __str__ = __repr__


def signed_form(
    key: str, secret: str | None, form: list[tuple[str, str]]
) -> tuple[bytes, dict[str, str]]:
    """The form with the key first, and its headers (signed when there is a secret:
    ``sign`` = MD5 of the form and the secret). The form is a :class:`HiddenForm`:
    error reporters that record every frame's locals (Sentry, ``capture_locals``) see
    its length, not the key."""
    body = urlencode([("key", key), *form])
    headers = {"Content-Type": _CONTENT_TYPE}
    if secret:
        headers["sign"] = hashlib.md5((body + secret).encode("utf-8")).hexdigest()  # noqa: S324 - the API's scheme
    return HiddenForm(body.encode("ascii")), headers
