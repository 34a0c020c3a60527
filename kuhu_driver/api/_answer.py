"""What an answer means: audio, or the error its status and body name.

Every message quotes the server through :class:`Redactor`, so that a key or secret the
server echoes never reaches a message, a log line or an exception.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from urllib.parse import quote, quote_plus

from .._model import Audio, Request
from .._text import one_line
from ..errors import (
    AuthError,
    BadRequestError,
    BadResponseError,
    KuhuError,
    RateLimitedError,
    ServerError,
)
from ._recognise import check_audio, pcm_from_answer, strip_bom
from ._voices import find_voice


@dataclass(frozen=True)
class Answer:
    """What the server sent for the last request that succeeded (for diagnostics)."""

    status: int
    content_type: str
    kind: str
    size: int
    seconds: float


@dataclass(frozen=True)
class RawAnswer:
    """An answer as read off the wire, before it is judged."""

    status: int
    content_type: str
    retry_after: float | None
    data: bytes


def _html_forms(secret: str) -> set[str]:
    """``secret`` HTML-escaped as servers do: "&amp;" and friends, "/" as is or as a
    numeric reference."""
    import html

    escaped = html.escape(secret)
    return {
        escaped,
        html.escape(secret, quote=False),
        escaped.replace("/", "&#x2F;"),
        escaped.replace("/", "&#x2f;"),
        escaped.replace("/", "&#47;"),
    }


class Redactor:
    """Hides the key and the secret in text a server sends back, in any encoding it
    may echo them: as is, percent-encoded (form or path style, any case), JSON-escaped,
    HTML-escaped."""

    def __init__(self, *secrets: str | None) -> None:
        forms: set[str] = set()
        for secret in secrets:
            if secret:
                forms |= {secret, quote_plus(secret), quote(secret, safe="")}
                forms.add(quote(secret))  # path style: "/" kept
                forms |= _html_forms(secret)
                forms.add(json.dumps(secret)[1:-1])
                forms.add(json.dumps(secret, ensure_ascii=False)[1:-1])
        # Longest first, so that no shorter form leaves part of a longer one behind.
        self._forms = sorted((f for f in forms if f), key=len, reverse=True)

    def __call__(self, message: str) -> str:
        for form in self._forms:
            message = re.sub(re.escape(form), "***", message, flags=re.IGNORECASE)
        return message


def judge(
    raw: RawAnswer, req: Request, redact: Redactor, *, signed: bool
) -> tuple[Audio, Answer | None]:
    """The audio in ``raw``, with what it was (for ``pcm``); else the error it names."""
    data, status = raw.data, raw.status
    error = _named_error(raw)
    if status == 200 and error is None:
        try:
            check_audio(data, req.format)
            if req.format != "pcm":
                return Audio(data=data, format=req.format, sample_rate=req.sample_rate), None
            pcm, kind = pcm_from_answer(
                data, req.sample_rate, raw.content_type, max_seconds=req.max_seconds()
            )
        except KuhuError as exc:
            exc.status = status
            raise
        seconds = len(pcm) / 2 / req.sample_rate
        answer = Answer(status, raw.content_type, kind, len(data), seconds)
        return Audio(data=pcm, format="pcm", sample_rate=req.sample_rate), answer
    raise refusal(raw, req, redact, signed=signed, error=error)


def _named_error(raw: RawAnswer) -> tuple[int | None, str] | None:
    """The JSON error (code, message) an answer is, if it is one."""
    bare = strip_bom(raw.data)
    return json_error(bare) if bare[:64].lstrip()[:1] == b"{" else None


def refusal(
    raw: RawAnswer,
    req: Request | None,
    redact: Redactor,
    *,
    signed: bool,
    error: tuple[int | None, str] | None = None,
) -> KuhuError:
    """The error an answer that is not audio names (``error``: its JSON code and message,
    if already read), the server's words on one line, redacted and cut short."""
    code, msg = (error or _named_error(raw)) or (None, "")
    return error_for(raw, code, one_line(redact(msg))[:200], req, signed=signed)


def error_for(
    raw: RawAnswer, code: int | None, detail: str, req: Request | None, *, signed: bool
) -> KuhuError:
    """The error for an answer that is not audio: by the API's code, else the status."""
    status = raw.status
    effective = code if code is not None else status
    said = f" (the API said: {detail})" if detail else ""
    if effective == 403:
        why = (
            "the key or the signing secret (KUHU_API_SECRET) is wrong, or the key lacks "
            "permission for this API"
            if signed
            else "the key is wrong or lacks permission for this API, or signing is on in "
            "the console and KUHU_API_SECRET is not set"
        )
        return AuthError(f"403: {why}" + said, status=status, code=code)
    if effective == 400:
        voice = req.voicing.voice if req is not None else None
        hint = (
            f"; the voice {voice} is not a system voice: check that it exists in "
            "your account (voice cloning)"
            if voice is not None and find_voice(voice) is None
            else ""
        )
        return BadRequestError(
            "400: the API refused the request" + said + hint, status=status, code=code
        )
    if effective == 429:
        return RateLimitedError(
            "429: too many requests for this key (the API takes 20 a second; another "
            "program may be using the same key)" + said,
            status=status,
            code=code,
            retry_after=raw.retry_after,
        )
    if effective >= 500:
        return ServerError(
            f"{effective}: the API failed on its side; try again later" + said,
            status=status,
            code=code,
        )
    if status == 200:
        return BadResponseError(
            f"the answer was a JSON error with code {code}, not audio" + said,
            status=status,
            code=code,
        )
    kind = raw.content_type.split(";")[0] or "no content type"
    return BadResponseError(
        f"unexpected HTTP {status} ({kind}) from the API" + said, status=status, code=code
    )


def retry_after_seconds(value: str | None) -> float | None:
    """A Retry-After header in seconds (its date form is not worth trusting a clock for)."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def json_error(data: bytes) -> tuple[int | None, str] | None:
    """``(code, msg)`` of a JSON error body, or ``None`` if the body is not JSON."""
    try:
        obj = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    if not isinstance(obj, dict):
        return (None, "")
    raw = obj.get("code")
    code: int | None
    try:
        code = int(raw) if raw is not None and not isinstance(raw, bool) else None
    except (TypeError, ValueError):
        code = None
    msg = obj.get("msg") or obj.get("message") or ""
    return code, str(msg)
