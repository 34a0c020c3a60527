"""The emulator's test signal: deterministic tones, never a zero sample, and a fake MP3."""

from __future__ import annotations

import math
import struct
import sys
from array import array
from functools import lru_cache


def other_rate(rate: int) -> int:
    """The sample rate a ``wav_other_rate`` answer uses when ``rate`` was asked."""
    return 16000 if rate != 16000 else 24000


def no_zero_samples(pcm: bytes) -> bytes:
    """Zero samples made 1: a capture of a stream that writes zeros while idle can then
    drop every zero and still hold exactly this signal."""
    samples = array("h", pcm)
    for i in range(len(samples)):
        if not samples[i]:
            samples[i] = 1
    return samples.tobytes()


@lru_cache(maxsize=4096)
def tone(sr: int, freq: int, pitch: float, amp: int, n: int) -> bytes:
    f = freq * pitch
    # Fade the edges (5 ms) so the test signal has no clicks.
    fade = max(1, min(n // 2, sr // 200))
    samples = array(
        "h",
        (
            # Never 0: see no_zero_samples.
            int(amp * min(1.0, i / fade, (n - i) / fade) * math.sin(2 * math.pi * f * i / sr)) or 1
            for i in range(n)
        ),
    )
    if sys.byteorder == "big":  # pragma: no cover
        samples.byteswap()
    return samples.tobytes()


def fake_mp3(digest: bytes, seconds: float) -> bytes:
    """An ID3 tag, then silent MPEG-1 Layer III frames (mono, 128 kbit/s, 44.1 kHz)."""
    tag_text = b"\x00" + digest.hex().encode()
    frame = b"TXXX" + struct.pack(">I", len(tag_text)) + b"\x00\x00" + tag_text
    size = len(frame)
    synchsafe = bytes([(size >> 21) & 0x7F, (size >> 14) & 0x7F, (size >> 7) & 0x7F, size & 0x7F])
    header = b"ID3\x03\x00\x00" + synchsafe + frame
    n_frames = max(1, math.ceil(seconds * 44100 / 1152))
    mp3_frame = b"\xff\xfb\x90\xc0" + b"\x00" * 413
    return header + mp3_frame * n_frames
