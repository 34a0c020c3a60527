"""Leaving the interpreter while one of our background threads is busy.

Our threads are daemons (a request never keeps a program alive), so a program may end
while one of them works. Two things then go wrong, both seen in programs that end soon
after ``init``:

- a thread inside OpenSSL (loading the CA roots, a TLS handshake) when OpenSSL's own exit
  handler frees what it uses: a segmentation fault;
- a thread frozen halfway through an import (httpx, miniaudio) holds the import lock,
  and the first import at finalization (a ``__del__`` of pyttsx3's) waits for ever.

So such work runs inside ``held_at_exit()``, and at exit (Python's ``atexit`` runs
before finalization and before C's exit handlers): no new such block starts, every
client is closed (which shuts the sockets of calls under way, so they return at once),
and the exit waits, five seconds at most, until no thread of ours is inside one.
Looking up a host name and connecting are let out of the block
(``released_at_exit``): they run no OpenSSL, may take long, and cannot be cut short.
"""

from __future__ import annotations

import contextlib
import threading
import weakref
from collections.abc import Iterator
from typing import Protocol

from .._exit_order import at_exit as exit_step
from ..errors import StoppedError

#: How long the exit waits for work under way (calls end within milliseconds once their
#: sockets are shut; importing httpx and loading the CA roots take about 150 ms, but
#: more than a second on a loaded machine, and an exit that gives up too soon may hang).
EXIT_WAIT = 5.0


class _Closable(Protocol):
    def close(self) -> None: ...


class ExitGate:
    """Counts the threads inside held blocks; closed once, at exit."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._inside = 0
        self._exiting = False
        self._depth = threading.local()  # how deep this thread is in held blocks
        self._clients: weakref.WeakSet[_Closable] = weakref.WeakSet()

    def track(self, client: _Closable) -> None:
        """Close ``client`` when the gate closes (it is not kept alive for that)."""
        with self._cond:
            self._clients.add(client)

    def _count(self, delta: int) -> None:
        with self._cond:
            self._inside += delta
            self._cond.notify_all()

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        """A block the exit waits for (OpenSSL, imports); refused once it is exiting."""
        depth = self._depth
        n = getattr(depth, "n", 0)
        if n == 0:
            with self._cond:
                if self._exiting:
                    raise StoppedError("the program is exiting")
                self._inside += 1
            depth.out = False
        depth.n = n + 1
        try:
            yield
        finally:
            depth.n -= 1
            if depth.n == 0 and not depth.out:
                self._count(-1)

    @contextlib.contextmanager
    def released(self) -> Iterator[None]:
        """Inside a held block: a part the exit need not wait for (a DNS lookup, a TCP
        connect); raises StoppedError at its end if the program is exiting meanwhile.
        Outside one, it does nothing."""
        depth = self._depth
        if not getattr(depth, "n", 0) or depth.out:
            yield
            return
        depth.out = True
        self._count(-1)
        try:
            yield
        finally:
            with self._cond:
                if not self._exiting:
                    self._inside += 1
                    depth.out = False
            if depth.out:
                raise StoppedError("the program is exiting")

    def close(self, wait: float) -> bool:
        """Refuse new held blocks, close every client, and wait up to ``wait`` s for the
        blocks under way; True if none was left."""
        with self._cond:
            self._exiting = True
            clients = list(self._clients)
        for client in clients:
            with contextlib.suppress(Exception):  # exiting anyway
                client.close()
        with self._cond:
            return self._cond.wait_for(lambda: self._inside == 0, timeout=wait)


#: The process's gate.
_gate = ExitGate()
track = _gate.track
held_at_exit = _gate.held
released_at_exit = _gate.released


@exit_step("network")
def at_exit(wait: float = EXIT_WAIT) -> bool:
    """Stop all held work; True if none was still under way after ``wait`` s."""
    return _gate.close(wait)
