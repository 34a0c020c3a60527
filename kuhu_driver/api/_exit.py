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
and the exit waits, a second at most, until no thread of ours is inside one. Looking up
a host name and connecting are let out of the block (``released_at_exit``): they run
no OpenSSL, may take long, and cannot be cut short.
"""

from __future__ import annotations

import atexit
import contextlib
import threading
import weakref
from collections.abc import Iterator
from typing import Protocol

from ..errors import CancelledError

#: How long the exit waits for work under way (calls end within milliseconds once their
#: sockets are shut; importing httpx and loading the CA roots take up to about 150 ms).
EXIT_WAIT = 1.0


class _Closable(Protocol):
    def close(self) -> None: ...


_cond = threading.Condition()
_state = {"inside": 0, "exiting": False}
_depth = threading.local()  # how deep this thread is in held_at_exit blocks
_clients: weakref.WeakSet[_Closable] = weakref.WeakSet()


def track(client: _Closable) -> None:
    """Close ``client`` when the interpreter exits (it is not kept alive for that)."""
    with _cond:
        _clients.add(client)


def _counted(delta: int) -> None:
    with _cond:
        _state["inside"] += delta
        _cond.notify_all()


@contextlib.contextmanager
def held_at_exit() -> Iterator[None]:
    """A block the exit waits for (OpenSSL, imports); refused once it is exiting."""
    n = getattr(_depth, "n", 0)
    if n == 0:
        with _cond:
            if _state["exiting"]:
                raise CancelledError("the program is exiting")
            _state["inside"] += 1
        _depth.out = False
    _depth.n = n + 1
    try:
        yield
    finally:
        _depth.n -= 1
        if _depth.n == 0 and not _depth.out:
            _counted(-1)


@contextlib.contextmanager
def released_at_exit() -> Iterator[None]:
    """Inside ``held_at_exit``: a part the exit need not wait for (a DNS lookup, a TCP
    connect); raises CancelledError at its end if the program is exiting meanwhile.
    Outside one, it does nothing."""
    if not getattr(_depth, "n", 0) or _depth.out:
        yield
        return
    _depth.out = True
    _counted(-1)
    try:
        yield
    finally:
        with _cond:
            if not _state["exiting"]:
                _state["inside"] += 1
                _depth.out = False
        if _depth.out:
            raise CancelledError("the program is exiting")


@atexit.register
def at_exit(wait: float = EXIT_WAIT) -> bool:
    """Stop all network calls; True if none was still under way after ``wait`` s."""
    with _cond:
        _state["exiting"] = True
        clients = list(_clients)
    for client in clients:
        with contextlib.suppress(Exception):  # exiting anyway
            client.close()
    with _cond:
        return _cond.wait_for(lambda: _state["inside"] == 0, timeout=wait)
