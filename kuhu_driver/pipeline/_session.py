"""A session: what one program's speech shares from one call to the next.

One :class:`Synthesizer` (one client: its connection kept ready, and opened anew after
idle as an engine's is; the cache, the shared rate limit, the breaker and the local
voice) and one player. ``speak()``, ``stream()``, ``save()`` and their asyncio faces
use a default session, made on first use and closed at exit; a program may make its
own (``with Session(voice="小婉") as s: s.speak("你好")``; the asyncio faces take it
as ``session=``), and each engine has one.

The device is kept open ``KEEP_DEVICE_FOR`` seconds after an utterance ends, then
released: utterances in a burst (a notification script) share one stream, and an idle
program neither holds the device nor spends the open stream's CPU (about 0.6 % of a
core). Utterances of one session never overlap: each waits for the one before it.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING

from .._cancel import CancelToken
from .._closing import Closing
from .._config import Settings, speech_settings
from .._exit_order import at_exit as exit_step
from .._model import Voicing
from ..audio import Player, make_player
from ..errors import CloudFallback
from ._job import Job, start_job
from ._markup import markup_mode
from ._plan import script_of
from ._play import play_job
from ._properties import Properties, VoiceArgs, with_given
from ._stream import Speech
from ._synth import Synthesizer

if TYPE_CHECKING:
    from typing_extensions import Unpack

#: Seconds the device stays open after an utterance ends (see the module docstring).
KEEP_DEVICE_FOR = 5.0


class Session(Closing):
    """Speech that shares its connection, cache, limiter, breaker, local voice and
    device from one call to the next. The voicing keywords (:class:`VoiceArgs`) are the
    defaults of every call; a call's own arguments win.
    ``api_key``, ``api_secret``, ``api_url`` (or ``settings``) override ``KUHU_*``.
    Close it (or use ``with``) to release the connection and the device. An engine's
    session is :func:`kuhu_driver.session_of` (engine). ``markup`` and ``on_mark``: see
    the attributes of the same names. ``pause()`` holds its speech; ``resume()`` goes on."""

    def __init__(
        self,
        *,
        api_key: str | None = None,
        api_secret: str | None = None,
        api_url: str | None = None,
        settings: Settings | None = None,
        synthesizer: Synthesizer | None = None,
        markup: str = "auto",
        on_mark: Callable[[str], None] | None = None,
        **voicing: Unpack[VoiceArgs],
    ) -> None:
        self.settings = settings or speech_settings(
            api_key=api_key, api_secret=api_secret, api_url=api_url
        )
        #: How markup in the text is read: ``"auto"`` (when the text has some), ``"ssml"``
        #: (always) or ``"off"`` (never: sent as it is). A call's ``markup=`` wins.
        self.markup = markup_mode(markup)
        #: Called with each mark's name (SSML ``<mark name=>``, SAPI ``<bookmark mark=>``)
        #: as the device takes its sample; on the audio thread, so it must be quick.
        self.on_mark = on_mark
        self._props = with_given(Properties(), voicing)
        self._synth = synthesizer or Synthesizer.from_settings(self.settings)
        self._player: Player | None = None
        self._turn = threading.Lock()  # one utterance at a time on the one stream
        self._turn_freed = threading.Condition()
        self._lock = threading.Lock()
        self._idle: threading.Timer | None = None
        self._ended = 0.0  # when the last utterance ended
        self._closed = False
        self._paused = False

    def __repr__(self) -> str:
        return f"Session(api_url={self.settings.api_url!r})"

    @property
    def synthesizer(self) -> Synthesizer:
        """The synthesizer every call of this session shares."""
        return self._synth

    @property
    def closed(self) -> bool:
        return self._closed

    def voicing(self, **args: Unpack[VoiceArgs]) -> Voicing:
        """The voicing of a call: the session's defaults, with the call's arguments."""
        return with_given(self._props, args).voicing()

    # -- what programs call ------------------------------------------------------------
    def speak(self, text: str, *, markup: str | None = None, **voicing: Unpack[VoiceArgs]) -> None:
        """Speak ``text`` and return once it has been heard (see :func:`speak`)."""
        self.speech(text, markup=markup, **voicing).play()

    def stream(
        self, text: str, *, markup: str | None = None, **voicing: Unpack[VoiceArgs]
    ) -> Generator[bytes, None, None]:
        """``text`` as 16-bit mono PCM as it arrives (see :func:`stream`)."""
        speech = self.speech(text, markup=markup, **voicing)
        try:
            yield from speech.pcm()
        finally:
            speech.stop()

    def save(
        self,
        text: str,
        path: str | os.PathLike[str],
        *,
        subtitles: str | os.PathLike[str] | None = None,
        markup: str | None = None,
        **voicing: Unpack[VoiceArgs],
    ) -> None:
        """Save ``text`` to ``path``, with ``subtitles`` if asked (see :func:`save`)."""
        self.speech(text, markup=markup, **voicing).save(path, subtitles)

    def speech(
        self, text: str, *, markup: str | None = None, **voicing: Unpack[VoiceArgs]
    ) -> Speech:
        """A :class:`Speech` of this session: one text, with a ``stop()``."""
        return Speech(
            text,
            self.voicing(**voicing),
            self._synth,
            self.speak_voiced,
            fallback_always=self.settings.fallback == "always",
            markup=self.markup if markup is None else markup_mode(markup),
            on_mark=self.on_mark,
        )

    # -- pausing -----------------------------------------------------------------------
    def pause(self) -> None:
        """Hold this session's speech where it is (silent within a period of the
        device, the position kept to the sample), and any it speaks next, until
        :meth:`resume`. Nothing is dropped, and nothing is requested again."""
        with self._lock:
            self._paused = True
            player = self._player
        if player is not None:
            player.pause()

    def resume(self) -> None:
        """Go on from the sample where :meth:`pause` held the speech."""
        with self._lock:
            self._paused = False
            player = self._player
        if player is not None:
            player.resume()

    @property
    def paused(self) -> bool:
        return self._paused

    # -- the device --------------------------------------------------------------------
    def speak_voiced(
        self,
        text: str,
        voicing: Voicing,
        cancel: CancelToken,
        *,
        on_fallback: Callable[[CloudFallback], None] | None = None,
        progress: Callable[[int], Callable[[int], None] | None] | None = None,
        on_job: Callable[[Job, Player], None] | None = None,
        markup: str | None = None,
        on_mark: Callable[[str], None] | None = None,
    ) -> bool:
        """Speak ``text`` with ``voicing`` after the utterances before it; True when all
        of it was heard, False if ``cancel`` was set first.

        The device is opened first (without one, nothing is sent or billed); a
        connection is opened meanwhile if none is ready. ``progress(pieces)`` may
        return a callback told of each piece played; ``on_job(job, player)`` hears of
        the job once it starts (to stop it from elsewhere). ``markup`` (the session's
        by default) says how the text is read; ``on_mark`` hears its marks."""
        script = script_of(text, self.markup if markup is None else markup)
        # Text that cannot be spoken (or malformed markup) opens nothing.
        if not self._take_turn(cancel):
            return False
        try:
            self._synth.warm_up(now=True)
            player = self._device(voicing.sample_rate)
            job = start_job(self._synth, script, voicing, fallback=True)
            job.on_fallback = on_fallback
            if on_job is not None:
                on_job(job, player)
            if cancel.is_set():
                job.cancel()
            try:
                on_piece = progress(len(job.spans)) if progress is not None else None
                return play_job(job, player, on_piece=on_piece, on_mark=on_mark)
            finally:
                job.cancel()
        finally:
            self._end_turn()

    def _take_turn(self, cancel: CancelToken) -> bool:
        """Wait for the utterance before this one to end (a stop ends the wait)."""

        def wake() -> None:
            with self._turn_freed:
                self._turn_freed.notify_all()

        forget = cancel.on_set(wake)
        try:
            with self._turn_freed:
                while not self._turn.acquire(blocking=False):
                    if cancel.is_set():
                        return False
                    self._turn_freed.wait()
        finally:
            forget()
        if self._closed:
            self._release_turn()
            raise RuntimeError("this Session is closed")
        with self._lock:
            idle, self._idle = self._idle, None
        if idle is not None:
            idle.cancel()
        return True

    def _device(self, sample_rate: int) -> Player:
        """The open player (made and opened now if the idle timer released it)."""
        player = self._player
        if player is None:
            player = self._player = make_player(self.settings.audio)
        try:
            player.prepare(sample_rate)
        except BaseException:
            self._player = None
            player.close()
            raise
        with self._lock:
            if self._paused != player.paused:  # paused before the device was opened
                (player.pause if self._paused else player.resume)()
        return player

    def _end_turn(self) -> None:
        self._ended = time.monotonic()
        if self._player is not None and not self._closed:
            timer = threading.Timer(KEEP_DEVICE_FOR, self._release_device)
            timer.name = "kuhu-device-idle"
            timer.daemon = True
            with self._lock:
                self._idle = timer
            timer.start()
        self._release_turn()

    def _release_turn(self) -> None:
        with self._turn_freed:
            self._turn.release()
            self._turn_freed.notify_all()

    def _release_device(self) -> None:
        """The idle timer: close the device, unless an utterance took it meanwhile."""
        if not self._turn.acquire(blocking=False):
            return  # speaking again: its end starts a new timer
        try:
            if time.monotonic() - self._ended >= KEEP_DEVICE_FOR * 0.99:
                player, self._player = self._player, None
                if player is not None:
                    player.close()
        finally:
            self._release_turn()

    def close(self, wait: float | None = None) -> None:
        """Release the connection, the device and the local voice, after the utterance
        being spoken (if any; ``wait``: at most that many seconds, then it is silenced).
        Calls after this raise ``RuntimeError``."""
        got = self._turn.acquire(timeout=-1 if wait is None else wait)
        try:
            with self._lock:
                if self._closed:
                    return
                self._closed = True
                idle, self._idle = self._idle, None
                player, self._player = self._player, None
        finally:
            if got:
                self._release_turn()
        if idle is not None:
            idle.cancel()
        if player is not None and not got:
            player.stop()
        self._synth.close()
        if player is not None:
            player.close()


_default: Session | None = None
_default_lock = threading.Lock()


def default_session() -> Session:
    """The session of ``speak()``, ``stream()``, ``save()`` and the asyncio faces: made
    on first use from the ``KUHU_*`` settings, and made anew if those changed (a program
    that switches endpoint or key between calls gets what it set)."""
    global _default
    settings = speech_settings()
    with _default_lock:
        old = _default
        if old is not None and not old.closed and old.settings == settings:
            return old
        _default = Session(settings=settings)
        made = _default
    if old is not None:
        old.close()
    return made


@exit_step("sessions")
def close_default() -> None:
    """At exit: the default session is closed (its device released, its threads told)."""
    global _default
    with _default_lock:
        session, _default = _default, None
    if session is not None:
        session.close(wait=1.0)
