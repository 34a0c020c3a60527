"""Audio formats: is an answer really audio of the asked format; WAV in and out."""

from __future__ import annotations

import json
import logging
import struct
from dataclasses import dataclass

from .errors import BadResponseError, TruncatedResponseError

__all__ = ["FORMATS", "Wav", "check_audio", "parse_wav", "pcm_from_answer", "wav_header"]

FORMATS = ("mp3", "wav", "pcm")

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Wav:
    sample_rate: int
    channels: int
    bits: int
    data: bytes


def wav_header(sample_rate: int, data_len: int, *, channels: int = 1, bits: int = 16) -> bytes:
    """A 44-byte RIFF/WAVE header for ``data_len`` bytes of little-endian PCM."""
    block = channels * bits // 8
    return struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        b"RIFF",
        36 + data_len,
        b"WAVE",
        b"fmt ",
        16,
        1,
        channels,
        sample_rate,
        sample_rate * block,
        block,
        bits,
        b"data",
        data_len,
    )


def parse_wav(body: bytes) -> Wav:
    """Read a PCM WAV; raise :class:`BadResponseError` (truncated: retryable) if it is not one."""
    if len(body) < 12 or body[:4] != b"RIFF" or body[8:12] != b"WAVE":
        raise BadResponseError("the answer is not a WAV file (no RIFF/WAVE header)")
    pos = 12
    fmt: tuple[int, int, int, int] | None = None
    while pos + 8 <= len(body):
        chunk_id, size = struct.unpack_from("<4sI", body, pos)
        pos += 8
        if chunk_id == b"fmt ":
            if size < 16 or pos + 16 > len(body):
                raise TruncatedResponseError("the WAV answer ends inside its format chunk")
            tag, channels, rate, _, _, bits = struct.unpack_from("<HHIIHH", body, pos)
            fmt = (tag, channels, rate, bits)
        elif chunk_id == b"data":
            if fmt is None:
                raise BadResponseError("the WAV answer has data before its format chunk")
            tag, channels, rate, bits = fmt
            if tag != 1 or bits != 16 or channels < 1 or rate <= 0:
                raise BadResponseError("the WAV answer is not 16-bit PCM")
            # 0xFFFFFFFF (or a size past the end) is what streamed WAVs announce.
            streamed = size in (0, 0xFFFFFFFF)
            if not streamed and pos + size > len(body):
                raise TruncatedResponseError(
                    f"the WAV answer was cut short: {len(body) - pos} of {size} audio bytes"
                )
            data = body[pos:] if streamed else body[pos : pos + size]
            data = data[: len(data) - len(data) % (channels * 2)]
            return Wav(sample_rate=rate, channels=channels, bits=bits, data=data)
        pos += size + (size & 1)
    raise TruncatedResponseError("the WAV answer has no audio data chunk")


def _looks_like_text(body: bytes) -> str | None:
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
    kind = _looks_like_text(body)
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
        if body[:4] == b"RIFF":
            parse_wav(body)
        elif len(body) < 2:
            raise TruncatedResponseError("the pcm answer holds not one whole sample")
    else:
        raise ValueError(f"unknown audio format {fmt!r}: use one of {', '.join(FORMATS)}")


def pcm_from_answer(body: bytes, sample_rate: int) -> tuple[bytes, int]:
    """Samples and rate of a ``pcm`` answer; a WAV-wrapped answer gives its own (mono mix)."""
    if body[:4] != b"RIFF":
        if len(body) % 2:
            # A complete answer (its length was checked) with a stray byte: keep the
            # audio rather than pay for it again.
            logger.warning("the pcm answer has an odd length (%d bytes): dropped 1", len(body))
            body = body[:-1]
        return body, sample_rate
    wav = parse_wav(body)
    if wav.channels == 1:
        return wav.data, wav.sample_rate
    # Keep the first channel: we play mono.
    frame = 2 * wav.channels
    mono = b"".join(wav.data[i : i + 2] for i in range(0, len(wav.data), frame))
    return mono, wav.sample_rate
