"""Audio formats: is an answer really audio of the asked format; WAV in and out."""

from __future__ import annotations

import logging
import struct
from dataclasses import dataclass
from pathlib import Path

from ..errors import BadResponseError, KuhuError, LocalVoiceError, TruncatedResponseError

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


def convert_pcm(pcm: bytes, *, channels: int, from_rate: int, to_rate: int) -> bytes:
    """16-bit PCM of ``channels`` at ``from_rate`` as mono at ``to_rate`` (miniaudio's
    converter); :class:`BadResponseError` if miniaudio is missing."""
    if channels == 1 and from_rate == to_rate:
        return pcm
    try:
        import miniaudio
    except ImportError:
        raise BadResponseError(
            f"the answer is {channels}-channel audio at {from_rate} Hz, not mono at the "
            f"{to_rate} Hz asked, and miniaudio (which converts it) is not installed"
        ) from None
    s16 = miniaudio.SampleFormat.SIGNED16
    return bytes(miniaudio.convert_frames(s16, channels, from_rate, pcm, s16, 1, to_rate))


def decode_mp3(body: bytes, sample_rate: int) -> bytes:
    """MP3 decoded to mono 16-bit PCM at ``sample_rate`` (miniaudio's decoder)."""
    try:
        import miniaudio
    except ImportError:
        raise BadResponseError(
            "the answer is MP3, not the PCM asked, and miniaudio (which decodes it) is "
            "not installed"
        ) from None
    try:
        decoded = miniaudio.decode(
            body,
            output_format=miniaudio.SampleFormat.SIGNED16,
            nchannels=1,
            sample_rate=sample_rate,
        )
    except miniaudio.MiniaudioError as exc:
        raise BadResponseError(f"the answer looks like MP3 but does not decode: {exc}") from None
    pcm = bytes(decoded.samples.tobytes())
    if not pcm:
        raise TruncatedResponseError("the MP3 answer holds no audio")
    return pcm


# MPEG audio Layer III: kbit/s by index, for MPEG-1 and for MPEG-2/2.5.
_L3_KBPS = {
    1: (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    2: (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}
_MPEG_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}


def _l3_frame(body: bytes, pos: int) -> int | None:
    """Length of the MPEG Layer III frame whose header is at ``pos``, or None."""
    if pos + 4 > len(body) or body[pos] != 0xFF or body[pos + 1] & 0xE0 != 0xE0:
        return None
    version = (body[pos + 1] >> 3) & 3
    layer = (body[pos + 1] >> 1) & 3
    bitrate_i = body[pos + 2] >> 4
    rate_i = (body[pos + 2] >> 2) & 3
    if version == 1 or layer != 1 or bitrate_i in (0, 15) or rate_i == 3:
        return None
    kbps = _L3_KBPS[1 if version == 3 else 2][bitrate_i]
    rate = _MPEG_RATES[version][rate_i]
    padding = (body[pos + 2] >> 1) & 1
    return (144 if version == 3 else 72) * kbps * 1000 // rate + padding


def mp3_frames(body: bytes) -> tuple[int, int]:
    """``(samples, sample rate)`` a player plays of an MP3: its Layer III frames (1152
    samples each for MPEG-1, 576 for MPEG-2/2.5) after any ID3 tag, less a first frame
    that holds a Xing/Info header (no audio). ``(0, 0)`` if it holds no frame."""
    pos = 0
    if _id3_tag(body):
        size = body[6:10]
        pos = 10 + (size[0] << 21 | size[1] << 14 | size[2] << 7 | size[3])
    samples = rate = 0
    first = True
    while (length := _l3_frame(body, pos)) is not None:
        version = (body[pos + 1] >> 3) & 3
        rate = _MPEG_RATES[version][(body[pos + 2] >> 2) & 3]
        info = first and (b"Xing" in body[pos : pos + 64] or b"Info" in body[pos : pos + 64])
        if not info:
            samples += 1152 if version == 3 else 576
        first = False
        pos += length
    return samples, rate


def _id3_tag(body: bytes) -> bool:
    """An ID3v2 header: "ID3", version 2 to 4, and a size of four 7-bit bytes."""
    return (
        len(body) >= 10
        and body[:3] == b"ID3"
        and body[3] in (2, 3, 4)
        and all(b < 0x80 for b in body[6:10])
    )


def looks_like_mp3(body: bytes, content_type: str = "") -> bool:
    """An ID3 tag, or MP3 frames: three chained frame headers (one if the content type
    says MP3). Raw PCM that starts with the sync bits by chance does not chain."""
    if _id3_tag(body):
        return True
    said = "mpeg" in content_type.lower() or "mp3" in content_type.lower()
    needed = 1 if said else 3
    pos = frames = 0
    while frames < needed:
        size = _l3_frame(body, pos)
        if size is None:
            return False
        pos += size
        frames += 1
        if pos >= len(body):
            # The answer ends here: whole frames only (the last one may end it exactly).
            return (pos == len(body) and frames >= 2) or said
    return True


def read_sound_file(path: Path) -> tuple[bytes, int]:
    """Mono 16-bit little-endian PCM and the rate of a WAV (SAPI's too) or AIFF/AIFF-C
    (macOS) file the local voice wrote. Anything wrong with it, or a file with no audio
    (pyttsx3 2.90/2.91 on macOS may leave only a header), is a :class:`LocalVoiceError`."""
    data = path.read_bytes()
    try:
        if data[:4] == b"FORM" and data[8:12] in (b"AIFF", b"AIFC"):
            pcm, rate = _parse_aiff(data)
        else:
            wav = parse_wav(data)
            pcm, rate = wav.data, wav.sample_rate
            if wav.channels > 1:
                frame = 2 * wav.channels
                pcm = b"".join(pcm[i : i + 2] for i in range(0, len(pcm), frame))
    except LocalVoiceError:
        raise
    except (KuhuError, ValueError, struct.error, IndexError) as exc:
        raise LocalVoiceError(
            f"the local voice wrote a sound file we cannot read ({exc})"
        ) from None
    if not pcm or not rate:
        raise LocalVoiceError("the local voice wrote a sound file with no audio in it")
    return pcm, rate


#: AIFF-C encodings of plain 16-bit samples: big-endian ("NONE", "twos") or
#: little-endian ("sowt", which macOS writes).
_AIFC_16BIT = (b"NONE", b"twos", b"sowt")


def _parse_aiff(data: bytes) -> tuple[bytes, int]:
    pos, channels, rate, pcm, little = 12, 1, 0, b"", False
    while pos + 8 <= len(data):
        cid, size = struct.unpack_from(">4sI", data, pos)
        body = data[pos + 8 : pos + 8 + size]
        if cid == b"COMM":
            channels, _, bits = struct.unpack_from(">hIh", body)
            if bits != 16:
                raise LocalVoiceError("the local voice wrote audio that is not 16-bit")
            exp, mant = struct.unpack_from(">HQ", body, 8)
            rate = round(mant * 2.0 ** ((exp & 0x7FFF) - 16383 - 63))
            if data[8:12] == b"AIFC":  # AIFF-C names its encoding after the rate
                kind = body[18:22]
                if kind not in _AIFC_16BIT:
                    raise LocalVoiceError(f"the local voice wrote AIFF-C audio of type {kind!r}")
                little = kind == b"sowt"
        elif cid == b"SSND":
            offset = struct.unpack_from(">I", body)[0]
            pcm = body[8 + offset :]
        pos += 8 + size + (size & 1)
    pcm = pcm[: len(pcm) - len(pcm) % 2]
    samples = bytearray(pcm)
    if not little:
        samples[0::2], samples[1::2] = pcm[1::2], pcm[0::2]  # big-endian to little-endian
    if channels > 1:
        frame = 2 * channels
        samples = bytearray(b"".join(samples[i : i + 2] for i in range(0, len(samples), frame)))
    return bytes(samples), rate


# -- the helper process ----------------------------------------------------------------


def strip_id3(mp3: bytes) -> bytes:
    """Drop a leading ID3v2 tag: the joined file keeps only the first piece's tag."""
    if len(mp3) >= 10 and mp3[:3] == b"ID3":
        b = mp3[6:10]
        size = (b[0] << 21) | (b[1] << 14) | (b[2] << 7) | b[3]
        footer = 10 if mp3[5] & 0x10 else 0
        return mp3[10 + size + footer :]
    return mp3
