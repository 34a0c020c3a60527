"""Speech Dispatcher's module protocol, the bytes of it: commands read from stdin (a
line, then for some a block of lines ending with "."), replies and events written to
stdout (see shared/speech-dispatcher.md).

Stdout is the protocol's alone: ``Wire.claim`` moves the process's own file descriptor
1 to stderr, so that nothing a library or a child process prints can reach the server.
Writes from the command loop and from the speaking thread are whole messages, never
interleaved (one lock).
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator, Sequence
from typing import BinaryIO

#: A chunk of audio per 705 event: about a quarter of a second at 22,050 Hz (the
#: server's own helper sends about 10 kB).
AUDIO_CHUNK = 10_240


def escape_pcm(pcm: bytes) -> bytes:
    """The protocol's escaping of audio bytes: 0x7D becomes 7D 5D, a line feed 7D 2A."""
    return pcm.replace(b"}", b"}]").replace(b"\n", b"}*")


def audio_events(pcm: bytes, sample_rate: int) -> Iterator[bytes]:
    """16-bit mono PCM as 705 events of ``AUDIO_CHUNK`` bytes at most."""
    for at in range(0, len(pcm) - len(pcm) % 2, AUDIO_CHUNK):
        chunk = pcm[at : at + AUDIO_CHUNK]
        head = (
            f"705-bits=16\n705-num_channels=1\n705-sample_rate={sample_rate}\n"
            f"705-num_samples={len(chunk) // 2}\n705-big_endian=0\n705-AUDIO\0"
        ).encode()
        yield head + escape_pcm(chunk) + b"\n705 AUDIO\n"


class Wire:
    """The module's end of the protocol."""

    def __init__(self, reader: BinaryIO, writer: BinaryIO) -> None:
        self._in = reader
        self._out = writer
        self._lock = threading.Lock()
        self.closed = False

    @classmethod
    def claim(cls) -> Wire:
        """The process's stdin and stdout, with fd 1 given to stderr from now on."""
        sys.stdout.flush()
        protocol = os.dup(1)
        os.dup2(2, 1)  # a stray print, ALSA's or a helper's output: the server's log
        sys.stdout = sys.stderr
        return cls(os.fdopen(os.dup(0), "rb"), os.fdopen(protocol, "wb"))

    # -- reading ---------------------------------------------------------------------
    def line(self) -> str | None:
        """The next line, without its end; None at the end of input (the server left)."""
        raw = self._in.readline()
        if not raw:
            return None
        return raw.decode("utf-8", "replace").rstrip("\r\n")

    def block(self) -> list[str] | None:
        """Lines up to the one that is a lone ".", a leading ".." made "." again."""
        lines: list[str] = []
        while True:
            line = self.line()
            if line is None:
                return None
            if line == ".":
                return lines
            lines.append(line[1:] if line.startswith("..") else line)

    # -- writing ---------------------------------------------------------------------
    def send(self, data: bytes) -> None:
        """Whole replies or events, at once (a closed pipe: the server left)."""
        with self._lock:
            if self.closed:
                return
            try:
                self._out.write(data)
                self._out.flush()
            except (BrokenPipeError, OSError, ValueError):
                self.closed = True

    def reply(self, code: int, text: str, lines: Sequence[str] = ()) -> None:
        head = "".join(f"{code}-{line}\n" for line in lines)
        self.send(f"{head}{code} {text}\n".encode())

    def event(self, code: int, text: str, detail: str | None = None) -> None:
        self.reply(code, text, [detail] if detail is not None else [])
