"""Is an answer audio of the asked format? Decided by its bytes, not by its labels."""

from __future__ import annotations

import json
import logging

from .._model import FORMATS, SAMPLE_RATES
from ..audio import convert_pcm, decode_mp3, looks_like_mp3, parse_wav
from ..errors import BadResponseError, TruncatedResponseError

logger = logging.getLogger(__name__)


#: Byte-order marks a text answer may start with (UTF-8, then UTF-16).
_UTF8_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
#: How much of an answer the text test reads: enough that audio fails it at once.
_TEXT_SAMPLE = 65536


def strip_bom(body: bytes) -> bytes:
    """``body`` without a leading UTF-8 byte-order mark (Notepad and some servers add one)."""
    return body[3:] if body.startswith(_UTF8_BOM) else body


def _reads_as_text(body: bytes, encoding: str = "utf-8") -> bool:
    """Whether the start of ``body`` decodes as printable text: a character split by the
    sample's end is fine; a control character other than whitespace is not (audio has
    them everywhere: any quiet sample holds a 0x00 or 0xFF byte)."""
    import codecs

    sample = body[:_TEXT_SAMPLE]
    try:
        text = codecs.getincrementaldecoder(encoding)().decode(sample, final=sample == body)
    except UnicodeError:
        return False
    return bool(text.strip()) and all(ch.isprintable() or ch in "\r\n\t" for ch in text)


def looks_like_text(body: bytes) -> str | None:
    """What kind of non-audio ``body`` is (JSON, HTML, text), or None if it may be audio.

    Decided by what it is, not by a short prefix: raw PCM can begin with any byte, but
    it never reads as printable text for long, so an answer is text when its first 64 KB
    decode as printable UTF-8 (after a byte-order mark, if any; UTF-16 with its mark
    too). JSON is text that parses; HTML is text that opens with a tag.
    """
    if body.startswith(_UTF16_BOMS):
        encoding = "utf-16-le" if body.startswith(b"\xff\xfe") else "utf-16-be"
        return "text (UTF-16)" if _reads_as_text(body[2:], encoding) else None
    body = strip_bom(body)
    head = body[:64].lstrip()
    if head[:1] in (b"{", b"[") and len(body) < 1_000_000:
        try:
            json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            pass
        else:
            return "JSON"
    if not _reads_as_text(body):
        return None
    if (head[:1] == b"<" and head[1:2].isalpha()) or head[:2] in (b"<!", b"<?"):
        return "HTML"
    return "text"


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


def pcm_from_answer(
    body: bytes, sample_rate: int, content_type: str = "", *, max_seconds: float | None = None
) -> tuple[bytes, str]:
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
        if wav.sample_rate not in SAMPLE_RATES or wav.channels not in (1, 2):
            raise BadResponseError(
                f"the answer is {kind}, which the API never produces: not audio we will play"
            )
        seconds = len(wav.data) / (2 * wav.channels) / wav.sample_rate
        if max_seconds is not None and seconds > max_seconds:
            raise BadResponseError(
                f"the answer is {kind} of {seconds:.0f} s, more than its text can make "
                f"({max_seconds:.0f} s): not audio we will play"
            )
        if (wav.channels, wav.sample_rate) != (1, sample_rate):
            logger.info("the pcm answer is %s: converting it to mono at %d Hz", kind, sample_rate)
        pcm = convert_pcm(
            wav.data, channels=wav.channels, from_rate=wav.sample_rate, to_rate=sample_rate
        )
        return pcm, kind
    if looks_like_mp3(body, content_type):
        logger.info("the pcm answer is MP3: decoding it")
        pcm = decode_mp3(body, sample_rate)
        if max_seconds is not None and len(pcm) / 2 / sample_rate > max_seconds:
            raise BadResponseError("the MP3 answer is longer than its text can make")
        return pcm, "MP3"
    if len(body) % 2:
        # A complete answer (its length was checked) with a stray byte: keep the
        # audio rather than pay for it again.
        logger.warning("the pcm answer has an odd length (%d bytes): dropped 1", len(body))
        body = body[:-1]
    return body, "raw PCM"
