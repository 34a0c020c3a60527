"""One checksummed audio-file format, for the cache's entries and a resumed save's pieces.

    magic "KUHU2\\n" | sample rate u32 | audio length u64 | format 4 bytes | SHA-256 | audio

The SHA-256 covers the header fields and the audio together, so a file that was cut
short, altered or bit-flipped anywhere (its rate or format included) is refused: it is
fetched again, never played or written.
"""

from __future__ import annotations

import hashlib
import io
import os
import struct
from pathlib import Path
from typing import IO, BinaryIO

from .._model import FORMATS, SAMPLE_RATES, Audio
from .._open import open_regular

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


def read_entry(f: IO[bytes], size: int) -> tuple[bytes, Audio | None]:
    """The header bytes of the stored entry in ``f`` (``size`` bytes long), and its
    audio if it is whole and unaltered (else None). The audio is read into a buffer of
    its own, once (a piece can be megabytes), and only when the header's length agrees
    with ``size``: a header claiming more is refused before anything is reserved."""
    head = f.read(_HEADER_SIZE)
    if len(head) < _HEADER_SIZE or not head.startswith(MAGIC):
        return head, None
    _, rate, length, fmt_raw = _FIELDS.unpack_from(head)
    if length != size - _HEADER_SIZE:
        return head, None
    data = f.read(length + 1)  # one byte past: a file that grew meanwhile is refused
    check = hashlib.sha256(memoryview(head)[: _FIELDS.size])
    check.update(data)
    fmt = fmt_raw.rstrip(b"\0").decode("ascii", "replace")
    if len(data) != length or check.digest() != head[_FIELDS.size :]:
        return head, None
    if fmt not in FORMATS or rate not in SAMPLE_RATES:
        return head, None
    return head, Audio(data=data, format=fmt, sample_rate=rate)


def read_file(f: BinaryIO) -> tuple[bytes, Audio | None]:
    """:func:`read_entry` of an open file, sized by ``fstat``."""
    return read_entry(f, os.fstat(f.fileno()).st_size)


def decode(raw: bytes) -> Audio | None:
    """The audio of a whole stored file held in memory, if whole and unaltered."""
    return read_entry(io.BytesIO(raw), len(raw))[1]


def is_ours(path: Path) -> bool:
    """Whether ``path`` is a regular file that starts with our magic (only such files
    are ever replaced)."""
    try:
        with open_regular(path) as f:
            return f.read(len(MAGIC)) == MAGIC
    except OSError:
        return False
