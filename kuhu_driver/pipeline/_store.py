"""One checksummed audio-file format, for the cache's entries and a resumed save's pieces.

    magic "KUHU2\\n" | sample rate u32 | audio length u64 | format 4 bytes | SHA-256 | audio

The SHA-256 covers the header fields and the audio together, so a file that was cut
short, altered or bit-flipped anywhere (its rate or format included) is refused: it is
fetched again, never played or written.
"""

from __future__ import annotations

import hashlib
import struct
from pathlib import Path

from .._model import FORMATS, SAMPLE_RATES, Audio
from .._private import open_regular

MAGIC = b"KUHU2\n"
# magic, sample rate, audio length, format, then SHA-256 of (those fields + audio).
_FIELDS = struct.Struct("<6sIQ4s")
_HEADER_SIZE = _FIELDS.size + 32


def header(audio: Audio) -> bytes:
    """The bytes that go before ``audio.data`` in its file (written apart from it: a
    piece can be megabytes, and joining would copy it)."""
    fields = _FIELDS.pack(MAGIC, audio.sample_rate, len(audio.data), audio.format.encode("ascii"))
    digest = hashlib.sha256(fields)
    digest.update(audio.data)
    return fields + digest.digest()


def decode(raw: bytes) -> Audio | None:
    """The file's audio if it is whole and unaltered, else None."""
    if len(raw) < _HEADER_SIZE or not raw.startswith(MAGIC):
        return None
    _, rate, length, fmt_raw = _FIELDS.unpack_from(raw)
    digest = raw[_FIELDS.size : _HEADER_SIZE]
    check = hashlib.sha256(memoryview(raw)[: _FIELDS.size])
    check.update(memoryview(raw)[_HEADER_SIZE:])
    if len(raw) - _HEADER_SIZE != length or check.digest() != digest:
        return None
    data = raw[_HEADER_SIZE:]
    fmt = fmt_raw.rstrip(b"\0").decode("ascii", "replace")
    if fmt not in FORMATS or rate not in SAMPLE_RATES:
        return None
    return Audio(data=data, format=fmt, sample_rate=rate)


def read_entry(path: Path) -> bytes:
    """The bytes of the stored entry at ``path`` (never through a link, never a FIFO or
    device: ``open_regular``), never read past the length its header announces (a
    longer file is read one byte past, and refused)."""
    with open_regular(path) as f:
        head = f.read(_HEADER_SIZE)
        if len(head) < _HEADER_SIZE or not head.startswith(MAGIC):
            return head
        length = _FIELDS.unpack_from(head)[2]
        return head + f.read(length + 1)


def is_ours(path: Path) -> bool:
    """Whether ``path`` is a regular file that starts with our magic (only such files
    are ever replaced)."""
    try:
        with open_regular(path) as f:
            return f.read(len(MAGIC)) == MAGIC
    except OSError:
        return False
