"""HTTP only: form, sign, send, retry, rate limit, recognise the answer; the voice list.

Layer: uses ``audio`` (codecs, to recognise answers) and the leaves (``_model``,
``_config``, ``_text``, ``errors``); used by ``pipeline``.
"""

from __future__ import annotations

from ._answer import Answer, Redactor
from ._client import KuhuClient
from ._exit import held_at_exit
from ._ratelimit import MachineLimiter, RateLimiter, shared_limiter
from ._recognise import check_audio, looks_like_text, pcm_from_answer
from ._request import Endpoint, build_request, check_url, piece_request, request_for
from ._retry import RETRY_AFTER_CAP, RetryPolicy
from ._voices import DEFAULT_VOICE, VOICES, Voice, find_voice, resolve_voice_id

__all__ = [
    "DEFAULT_VOICE",
    "RETRY_AFTER_CAP",
    "VOICES",
    "Answer",
    "Endpoint",
    "KuhuClient",
    "MachineLimiter",
    "RateLimiter",
    "Redactor",
    "RetryPolicy",
    "Voice",
    "build_request",
    "check_audio",
    "check_url",
    "find_voice",
    "held_at_exit",
    "looks_like_text",
    "pcm_from_answer",
    "piece_request",
    "request_for",
    "resolve_voice_id",
    "shared_limiter",
]
