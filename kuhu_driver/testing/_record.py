"""What the emulator records of each request, for tests to inspect."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class EmulatorRequest:
    """One request as the emulator saw it. ``params`` never holds the key."""

    method: str
    params: dict[str, str]
    billed: int
    arrived: float
    attempt: int = 1
    finished: float | None = None
    outcome: str = "pending"
    audio_sha256: str | None = None
    #: Where the emulator found the key and the secret in the raw request.
    key_in_body: bool = False
    key_elsewhere: bool = False
    secret_seen: bool = False
    sign: str | None = None
    #: Which TCP connection it came on (numbered from 1), and when that one was opened.
    connection: int = 0
    connection_opened: float = 0.0

    @property
    def text(self) -> str:
        return self.params.get("text", "")
