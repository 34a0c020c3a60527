"""Every error kuhu_driver raises on purpose.

    KuhuError                      base; carries ``status`` (HTTP) and ``code`` (API)
    ├── ConfigError                a setting is missing or unusable (no key, bad URL)
    ├── AuthError                  403: the key (or signing secret) is wrong, or lacks permission
    ├── BadRequestError            400: the API refused the request (its message quoted)
    ├── ServerError                5xx, or a JSON error code >= 500 (retried)
    │   └── RateLimitedError       429: too many requests; carries ``retry_after``
    ├── TransportError             connect, reset, timeout (retried)
    │   └── TLSError               the server's certificate did not verify (not retried)
    ├── BadResponseError           the answer is not audio of the asked format
    │   └── TruncatedResponseError the body ended early (retried)
    ├── AudioDeviceError           no sound device, or playback failed
    ├── LocalVoiceError            the platform's local voice could not speak
    ├── InvalidInputError          text or a property value is unusable (a ValueError too)
    │   └── MarkupError            malformed markup; carries ``position`` in the text
    ├── UnknownPropertyError       no such pyttsx3 property (a KeyError too)
    └── StoppedError               stop() ended the work before it was done

    CloudFallback                  not an error, never raised: a notice (a plain record)
                                   that the local voice spoke because the cloud could not

Messages name the likely cause; none ever contains the API key or signing secret.
(``StoppedError`` is named so as not to be confused with asyncio's and
concurrent.futures' ``CancelledError``, which cancelling a task or a future raises.)
"""

from __future__ import annotations

__all__ = [
    "AudioDeviceError",
    "AuthError",
    "BadRequestError",
    "BadResponseError",
    "CloudFallback",
    "ConfigError",
    "InvalidInputError",
    "KuhuError",
    "LocalVoiceError",
    "MarkupError",
    "RateLimitedError",
    "ServerError",
    "StoppedError",
    "TLSError",
    "TransportError",
    "TruncatedResponseError",
    "UnknownPropertyError",
]


class KuhuError(Exception):
    """Base class of kuhu_driver's errors."""

    #: Whether trying the same request again may succeed.
    retryable: bool = False

    def __init__(self, message: str, *, status: int | None = None, code: int | None = None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.message!r}, status={self.status!r}, code={self.code!r})"
        )


class ConfigError(KuhuError):
    """A setting is missing or cannot be used."""


class AuthError(KuhuError):
    """The API answered 403: the key is wrong, or lacks permission, or the signature is."""


class BadRequestError(KuhuError):
    """The API answered 400: it refused the parameters."""


class ServerError(KuhuError):
    """The API failed on its side (5xx, or a JSON code >= 500)."""

    retryable = True


class RateLimitedError(ServerError):
    """The API answered 429: too many requests for this key. ``retry_after`` is the
    wait the server asked for, in seconds (``None`` if it named none)."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, status=status, code=code)
        self.retry_after = retry_after


class TransportError(KuhuError):
    """The request did not complete: no connection, reset, or timeout."""

    retryable = True
    #: True when the server could not be reached at all (connection refused, name not
    #: found, no connection in time): a sign that it is down, not merely busy.
    unreachable: bool = False


class TLSError(TransportError):
    """The server's TLS certificate could not be verified; nothing was sent."""

    retryable = False


class BadResponseError(KuhuError):
    """The answer is not audio of the requested format."""


class TruncatedResponseError(BadResponseError):
    """The answer ended before its announced length."""

    retryable = True


class AudioDeviceError(KuhuError):
    """No audio device could be opened, or playback failed."""


class LocalVoiceError(KuhuError):
    """The platform's local voice could not speak."""


class StoppedError(KuhuError):
    """The work was stopped (``stop()``, a closed client, the program's exit) before it
    finished."""


class InvalidInputError(KuhuError, ValueError):
    """Text or a property value cannot be used (also a ``ValueError``)."""


class MarkupError(InvalidInputError):
    """The text's markup is malformed: an element of ours badly formed, unclosed or with
    a value that cannot be read. ``position`` is where, counted from 0 in the text."""

    def __init__(self, message: str, *, position: int) -> None:
        super().__init__(message)
        self.position = position


class UnknownPropertyError(KuhuError, KeyError):
    """No such pyttsx3 property (also a ``KeyError``, as pyttsx3 documents)."""

    def __str__(self) -> str:
        return self.message


class CloudFallback:
    """Not an error, and never raised: a notice that the cloud could not speak
    (``cause``, the error it met), so the platform's local voice spoke the utterance,
    from ``piece`` (0-based) on. Handed to pyttsx3's ``error`` callbacks (as
    ``exception=``) so that a program can see it; the utterance still finishes with
    ``completed=True``. ``str()`` and ``message`` give one line without the key."""

    __slots__ = ("cause", "message", "piece")

    def __init__(self, cause: KuhuError, *, piece: int = 0) -> None:
        where = "" if piece == 0 else f" from piece {piece + 1} on"
        self.cause = cause
        self.piece = piece
        self.message = (
            f"the cloud voice could not speak ({cause.message}); the local voice "
            f"spoke instead{where}"
        )

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"CloudFallback({self.cause!r}, piece={self.piece})"
