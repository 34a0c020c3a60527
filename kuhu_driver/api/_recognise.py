"""Is an answer audio of the asked format? Decided by its bytes, not by its labels."""

from __future__ import annotations

import json
import logging

from .._model import FORMATS
from ..audio import convert_pcm, decode_mp3, looks_like_mp3, parse_wav
from ..errors import BadResponseError, TruncatedResponseError

logger = logging.getLogger(__name__)


def looks_like_text(body: bytes) -> str | None:
    """What kind of non-audio ``body`` is (JSON, HTML, text), or None if it may be audio.

    Raw PCM can begin with any byte, so JSON must parse, HTML must open with a tag
    name, and text must be printable UTF-8 throughout its first 512 bytes.
    """
    head = body[:64].lstrip()
    if head[:1] in (b"{", b"[") and len(body) < 1_000_000:
        try:
            json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            pass
        else:
            return "JSON"
    if head[:15].lower().startswith((b"<!doctype", b"<html", b"<?xml", b"<head", b"<body")):
        return "HTML"
    try:
        sample = body[:512].decode("utf-8")
    except UnicodeDecodeError:
        return None
    if sample and all(ch.isprintable() or ch in "\r\n\t" for ch in sample):
        return "text"
    return None


def check_audio(body: bytes, fmt: str) -> None:
    """Raise :class:`BadResponseError` unless ``body`` looks like audio in ``fmt``."""
    if not body:
        raise TruncatedResponseError("the answer was empty, not audio")
    kind = looks_like_text(body)
    if kind is not None and not body.startswith((b"RIFF", b"ID3")):
        raise BadResponseError(f"the answer was {kind}, not {fmt} audio")
    if fmt == "wav":
        parse_wav(body)
    elif fmt == "mp3":
        if body[:3] == b"ID3":
            if len(body) < 10:
                raise TruncatedResponseError("the mp3 answer ends inside its ID3 tag")
            return
        if not (body[0] == 0xFF and (body[1] & 0xE0) == 0xE0):
            raise BadResponseError("the answer is not mp3 audio (no ID3 tag or frame sync)")
    elif fmt == "pcm":
        # A WAV-wrapped answer is read (and checked) once, by pcm_from_answer.
        if body[:4] != b"RIFF" and len(body) < 2:
            raise TruncatedResponseError("the pcm answer holds not one whole sample")
    else:
        raise ValueError(f"unknown audio format {fmt!r}: use one of {', '.join(FORMATS)}")


def pcm_from_answer(body: bytes, sample_rate: int, content_type: str = "") -> tuple[bytes, str]:
    """Mono 16-bit samples at ``sample_rate`` from a ``pcm`` answer, as the server sent
    it, and what the answer was ("raw PCM", "a WAV (…)", "MP3") for messages.

    Recognised by its bytes, whatever its content type says: raw PCM is taken as is; a
    WAV gives its samples, converted to mono at the asked rate if it differs; an MP3
    (what a server that ignored the format would send) is decoded."""
    if body[:4] == b"RIFF":
        wav = parse_wav(body)
        kind = (
            f"a WAV ({wav.channels} channel{'s' if wav.channels > 1 else ''}, {wav.sample_rate} Hz)"
        )
        if (wav.channels, wav.sample_rate) != (1, sample_rate):
            logger.info("the pcm answer is %s: converting it to mono at %d Hz", kind, sample_rate)
        pcm = convert_pcm(
            wav.data, channels=wav.channels, from_rate=wav.sample_rate, to_rate=sample_rate
        )
        return pcm, kind
    if looks_like_mp3(body, content_type):
        logger.info("the pcm answer is MP3: decoding it")
        return decode_mp3(body, sample_rate), "MP3"
    if len(body) % 2:
        # A complete answer (its length was checked) with a stray byte: keep the
        # audio rather than pay for it again.
        logger.warning("the pcm answer has an odd length (%d bytes): dropped 1", len(body))
        body = body[:-1]
    return body, "raw PCM"
