"""The asyncio faces: ``astream()``, ``aspeak()``, ``asave()``. The same :class:`Speech`
as ``stream()``/``speak()``/``save()`` (on the default session, or the one given), run
on a thread of its own, so the event loop never waits on the network, the disk or the
device. Cancelling the task (or closing the iterator) calls ``Speech.stop()`` at once:
nothing new is requested, playback goes silent, and the thread ends on its own shortly
after.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections.abc import AsyncGenerator, Callable
from typing import TYPE_CHECKING, Any

from ._session import Session, default_session

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from ._properties import VoiceArgs

#: Chunks ``astream`` lets its thread hand over before the consumer has taken them.
AHEAD = 2


def _post(loop: asyncio.AbstractEventLoop, fn: Callable[..., Any], *args: Any) -> None:
    """Run ``fn(*args)`` on ``loop``, unless the loop is gone (the program moved on)."""
    with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
        loop.call_soon_threadsafe(fn, *args)


async def _in_thread(run: Callable[[], None], stop: Callable[[], None]) -> None:
    """``run()`` on a thread of its own; cancelling the waiting task calls ``stop()``."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()

    def settle(exc: BaseException | None) -> None:
        if done.done():
            return
        if exc is None:
            done.set_result(None)
        else:
            done.set_exception(exc)

    def body() -> None:
        try:
            run()
        except BaseException as exc:  # handed to the task that waits
            _post(loop, settle, exc)
        else:
            _post(loop, settle, None)

    threading.Thread(target=body, name="kuhu-async", daemon=True).start()
    try:
        await done
    except asyncio.CancelledError:
        stop()
        raise


async def aspeak(
    text: str,
    *,
    session: Session | None = None,
    markup: str | None = None,
    **voicing: Unpack[VoiceArgs],
) -> None:
    """Speak ``text`` and return when it has been heard (see :func:`speak`), without
    blocking the event loop. Cancelling the task silences it within 50 ms; its
    session's ``pause()`` holds it (``kuhu_driver.pause()`` for the default session)."""
    speech = (session or default_session()).speech(text, markup=markup, **voicing)
    await _in_thread(speech.play, speech.stop)


async def asave(
    text: str,
    path: str | os.PathLike[str],
    *,
    subtitles: str | os.PathLike[str] | None = None,
    session: Session | None = None,
    markup: str | None = None,
    **voicing: Unpack[VoiceArgs],
) -> None:
    """:func:`save`, without blocking the event loop; cancelling the task stops it."""
    speech = (session or default_session()).speech(text, markup=markup, **voicing)
    await _in_thread(lambda: speech.save(path, subtitles), speech.stop)


async def astream(
    text: str,
    *,
    session: Session | None = None,
    markup: str | None = None,
    **voicing: Unpack[VoiceArgs],
) -> AsyncGenerator[bytes, None]:
    """:func:`stream` as an async iterator: the same bytes, the event loop never blocked.
    Closing it (``aclose()``, leaving ``async for`` with ``break`` and closing it, or
    cancelling the task) stops fetching at once."""
    speech = (session or default_session()).speech(text, markup=markup, **voicing)
    loop = asyncio.get_running_loop()
    items: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
    room = threading.Semaphore(AHEAD)
    speech.stop_token.on_set(room.release)  # a stop wakes a pump waiting for room

    def pump() -> None:
        chunks = speech.pcm()
        try:
            for chunk in chunks:
                room.acquire()
                if speech.stopped:
                    return
                _post(loop, items.put_nowait, ("chunk", chunk))
        except BaseException as exc:  # handed to the consumer
            _post(loop, items.put_nowait, ("error", exc))
        else:
            _post(loop, items.put_nowait, ("end", None))
        finally:
            chunks.close()

    threading.Thread(target=pump, name="kuhu-astream", daemon=True).start()
    try:
        while True:
            kind, value = await items.get()
            if kind == "end":
                return
            if kind == "error":
                raise value
            room.release()
            yield value
    finally:
        speech.stop()
