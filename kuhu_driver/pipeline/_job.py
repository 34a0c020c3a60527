"""A job: the pieces of one text, fetched ahead and handed out strictly in order.

The first piece is short (one sentence) so that first sound comes after one short round
trip; the rest are fetched by the synthesizer's workers within the rate limit, at most
``window`` pieces ahead of the consumer so that memory stays bounded. When the cloud
fails and the job may fall back, the local voice speaks from that piece on.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass

from .._cancel import CancelToken, wait_any
from .._model import Audio, Request, Voicing
from .._text import billed_chars
from ..api import piece_request
from ..errors import CloudFallback, InvalidInputError, KuhuError, StoppedError, TransportError
from ..local import falls_back
from ._chunk import speech_pieces
from ._markup import Script
from ._plan import Plan, check_billed, job_plan, script_of
from ._resume import SaveState
from ._synth import Synthesizer

logger = logging.getLogger(__name__)


#: Seconds of audio a billed character makes, at most, as the read-ahead reckons it
#: before the audio arrives (a Han character bills 2 and takes a voice about 0.25 s).
SECONDS_PER_BILLED = 0.15


@dataclass(frozen=True)
class Piece:
    index: int
    start: int
    end: int
    audio: Audio


class Job:
    """The pieces of one text, fetched ahead and handed out strictly in order."""

    def __init__(
        self,
        synth: Synthesizer,
        text: str | Script,
        voicing: Voicing,
        *,
        format: str,
        window: int,
        keep: SaveState | None = None,
        cues: bool = False,
        ahead_seconds: float | None = None,
        markup: str = "auto",
        split: Callable[[str], list[tuple[int, int]]] | None = None,
    ) -> None:
        #: The text as spoken (markup obeyed: see ``_markup``); ``text`` is what is sent.
        self.script = script_of(text, markup)
        self.text = self.script.text
        check_billed(self.text, synth.max_billed)
        self.voicing = voicing
        self.format = format
        #: One piece per subtitle cue (``cues``), else a short first sentence, then more;
        #: never across a cut of the markup, and a piece of silence at each break.
        self.plan, quick = job_plan(
            self.script, format, cues=cues, whole=keep is not None, split=split
        )
        self.cancel_event = CancelToken()
        #: Called once, with the notice, when the local voice takes over.
        self.on_fallback: Callable[[CloudFallback], None] | None = None
        self._fallback = False
        self._local_from: int | None = None  # the first piece the local voice speaks
        self._aside = False  # set aside (see set_aside): nothing more is fetched
        self._born = time.monotonic()
        self._synth = synth
        self._window = max(1, window)
        #: At most this many seconds of audio (reckoned from the text) fetched ahead of
        #: the consumer, beyond the one next piece (None: ``window`` pieces only).
        self._ahead_seconds = ahead_seconds
        self._needs_ahead = 1  # pieces ahead a fast consumer has shown it needs
        self._submitted: dict[int, float] = {}  # when each piece was asked for
        self._last_asked = float("-inf")  # when the consumer last asked for a piece
        self._futures: list[Future[Audio | None] | None] = [None] * len(self.spans)
        #: Where pieces are kept for resuming, and the first piece not yet written there.
        self._keep = keep
        self.first_piece = keep.appended if keep is not None else 0
        self._kept = keep.kept() if keep is not None else set()
        #: Billed characters of this text not fetched: already kept from an earlier run.
        self.billed_reused = sum(
            billed_chars(self.text[a:b]) for a, b in self.spans[: self.first_piece]
        )
        self._next = self.first_piece
        self._consumed = self.first_piece
        self._changed = threading.Event()
        self._submit_lock = threading.Lock()
        self._led = False  # whether the first piece to fetch was submitted
        self._first_asked = CancelToken()
        if quick:
            self.widen(1)
            self._split_the_rest(self.spans[0])
        self.widen(self._window)

    def _split_the_rest(self, first: tuple[int, int]) -> None:
        spans = speech_pieces(self.text)
        with self._submit_lock:
            if spans[0] != first:  # cannot happen with QUICK_PREFIX well past the limit
                fut = self._futures[0]
                if fut is not None:
                    fut.cancel()
                self._futures = [None] * len(spans)
                self._next = 0
                self._led = False
                self._first_asked = CancelToken()
            else:
                self._futures += [None] * (len(spans) - 1)
            self.plan = Plan(spans)

    @property
    def spans(self) -> list[tuple[int, int]]:
        """``(start, end)`` in ``text`` of each piece, in order (a break's is empty)."""
        return self.plan.spans

    def allow_fallback(self, allowed: bool) -> None:
        """Whether pieces the cloud cannot give may be spoken by the local voice (PCM)."""
        self._fallback = allowed and self.format == "pcm" and self._synth.local is not None

    def widen(self, window: int) -> None:
        """Fetch up to ``window`` pieces ahead (a prefetched job starts with one)."""
        with self._submit_lock:
            self._window = max(self._window, window)
            while (
                self._local_from is None
                and not self._aside
                and self._next < len(self.spans)
                and self._next - self._consumed < self._window
                and self._room_ahead()
            ):
                self._submit_next()

    def _room_ahead(self) -> bool:
        """Whether one more piece may be fetched ahead: always the one after the piece
        being used (and, before the first is handed out, after the one waited for), so
        that it is ready when that one ends; more while the audio fetched ahead stays
        within ``ahead_seconds``, or while fewer are ahead than a consumer that had to
        wait has shown it needs (``_starved``)."""
        if self._ahead_seconds is None:
            return True
        waiting_for_first = self._consumed == self.first_piece
        if self._next - self._consumed < self._needs_ahead + waiting_for_first:
            return True
        ahead = sum(
            billed_chars(self.text[a:b]) for a, b in self.spans[self._consumed : self._next + 1]
        )
        return ahead * SECONDS_PER_BILLED <= self._ahead_seconds

    def _starved(self) -> None:
        """The consumer had to wait for a piece that was under way all the while it used
        the one before: it takes pieces faster than they come, so pieces held ahead
        cost it no memory. Fetch the whole ``window`` side by side from now on."""
        with self._submit_lock:
            self._needs_ahead = self._window

    def _submit_next(self) -> None:
        i = self._next
        keep = self._keep
        if i in self._kept or i in self.plan.silences:
            fut: Future[Audio | None] = Future()
            # On disk from an earlier run: read when its turn comes. Silence: made here.
            fut.set_result(self.silence(i) if i in self.plan.silences else None)
        else:
            leads = not self._led
            self._led = True
            req = self._request(i)

            def fetch() -> Audio | None:
                if leads:
                    try:
                        audio = self._synth.fetch(
                            req, self.cancel_event, on_slot=self._first_asked.set
                        )
                    finally:
                        self._first_asked.set()  # a cache hit, or a failure, takes no slot
                else:
                    self._after_first()
                    audio = self._synth.fetch(req, self.cancel_event)
                if keep is not None and keep.store(i, audio):  # kept the moment it arrives
                    return None  # and held only on disk until its turn (see _piece)
                return audio

            fut = self._synth.submit(fetch)
        fut.add_done_callback(lambda _f: self._changed.set())
        self._futures[i] = fut
        self._submitted[i] = time.monotonic()
        self._next += 1

    def voicing_of(self, i: int) -> Voicing:
        """Piece ``i``'s voicing: the job's, changed by its markup."""
        tone = self.plan.tones.get(i)
        return self.voicing if tone is None else tone.apply(self.voicing)

    def silence(self, i: int) -> Audio:
        """Piece ``i``, a break: its silence, to the sample, never sent or billed."""
        rate = self.voicing.sample_rate
        return Audio(bytes(2 * round(self.plan.silences[i] * rate / 1000)), "pcm", rate)

    def _request(self, i: int) -> Request:
        """Piece ``i``'s request, made once (its billed count and cache key with it)."""
        a, b = self.spans[i]
        try:
            return piece_request(self.text[a:b], self.voicing_of(i), self.format)
        except ValueError as exc:
            raise InvalidInputError(str(exc)) from None

    def _after_first(self) -> None:
        """Wait until the job's first fetched piece has its rate-limit slot (or its
        answer), so that it is asked first: first sound waits for nothing else."""
        wait_any(self._first_asked, self.cancel_event)
        if not self._first_asked.is_set():
            raise StoppedError("stopped before the request was sent")

    def cancel(self) -> None:
        """Stop: pending requests are dropped, answers being read end (their sockets are
        shut by the token's callbacks), waiting and playback end."""
        self.cancel_event.set()
        self._changed.set()
        for fut in self._futures:
            if fut is not None:
                fut.cancel()

    @property
    def cancelled(self) -> bool:
        return self.cancel_event.is_set()

    def __iter__(self) -> Iterator[Piece]:
        # The piece is made in a method, so that this frame holds no audio while the
        # consumer has it: a piece is freed once its consumer lets it go.
        for i in range(self.first_piece, len(self.spans)):  # earlier ones: an earlier run
            yield self._piece(i)

    def _piece(self, i: int) -> Piece:
        if self._local_from is None:
            try:
                audio = self._cloud_piece(i)
            except KuhuError as exc:
                if not self._take_over(i, exc):
                    self.cancel()  # nothing more of this text will be played
                    raise
        if self._local_from is not None:
            audio = self._local_piece(i)
        self._futures[i] = None  # the consumer owns the audio now
        self._consumed = i + 1
        self.widen(self._window)
        a, b = self.spans[i]
        return Piece(index=i, start=a, end=b, audio=audio)

    def _cloud_piece(self, i: int) -> Audio:
        fut = self._futures[i]
        assert fut is not None
        now = time.monotonic()
        # The consumer waits for a piece that was under way all the while it used the
        # one before: it takes pieces faster than they come (not merely at the start).
        if not fut.done() and self._submitted.get(i, now) <= self._last_asked:
            self._starved()
        self._last_asked = now
        # With a local voice to fall back on, a piece playback waits for is given as
        # long as the cloud lately takes (see _fallback), counted from the job's start
        # for the first piece and from when it is needed for the others, and from the
        # cloud's last answer of any request: a server that answers is not down.
        # However often the cloud answers something, a piece waits at most
        # ``cloud_wait`` (KUHU_CLOUD_WAIT) from when playback needs it.
        needed = now
        since = self._born if i == 0 else needed
        breaker = self._synth.breaker
        while not fut.done():
            if self.cancel_event.is_set():
                raise StoppedError("stopped")
            timeout = None  # woken by the answer or a stop (both set _changed)
            if self._fallback and breaker is not None:
                patience = breaker.patience(self._synth.client.timeout)
                waited = time.monotonic() - needed
                silent = breaker.silent_for(since)
                if silent > patience or waited > breaker.cloud_wait:
                    exc = TransportError(
                        f"the cloud did not answer within {min(patience, waited):.3g} s"
                    )
                    breaker.trip(exc)
                    raise exc
                # Woken when either bound passes (the breaker's state may move them).
                timeout = max(0.005, min(patience - silent, breaker.cloud_wait - waited))
            self._changed.wait(timeout)
            self._changed.clear()
        if self.cancel_event.is_set():
            raise StoppedError("stopped")
        audio = fut.result()
        return audio if audio is not None else self._read_kept(i)

    def _read_kept(self, i: int) -> Audio:
        """A piece of a resumable save, kept on disk (by an earlier run, or as it
        arrived: a long save holds only the piece being written, not all those fetched
        ahead); read once, when its turn comes, and bought again only if it was removed
        or damaged."""
        assert self._keep is not None
        audio = self._keep.stored(i)
        if audio is None:
            return self._synth.fetch(self._request(i), self.cancel_event)
        if i in self._kept:
            a, b = self.spans[i]
            self.billed_reused += billed_chars(self.text[a:b])
        return audio

    def _take_over(self, i: int, exc: KuhuError) -> bool:
        """Let the local voice speak from piece ``i`` on, if it may and can."""
        local = self._synth.local
        if not (self._fallback and falls_back(exc) and local is not None and local.available()):
            return False
        self._local_from = i
        self._keep_from(i)
        notice = CloudFallback(exc, piece=i)
        logger.warning("%s", notice)
        if self.on_fallback is not None:
            self.on_fallback(notice)
        return True

    def set_aside(self, *handed: Piece) -> None:
        """Hand out nothing more, and keep what was fetched: each piece not handed out
        that has arrived or is under way, and the ``handed`` ones (sent, perhaps not yet
        heard), is kept (``keep_unheard``), so that asked for again (a paused message
        resumed) it is not bought again."""
        with self._submit_lock:
            self._aside = True
        for piece in handed:
            if piece.index not in self.plan.silences:
                self._synth.keep_unheard(self._request(piece.index), piece.audio)
        self._keep_from(self._consumed)

    def _keep_from(self, i: int) -> None:
        for j, fut in enumerate(self._futures[i:], start=i):
            if fut is not None and j not in self.plan.silences and not fut.cancel():
                # Under way or arrived: its answer is kept rather than bought again.
                fut.add_done_callback(functools.partial(self._keep_late, self._request(j)))

    def _keep_late(self, req: Request, fut: Future[Audio | None]) -> None:
        if not fut.cancelled() and fut.exception() is None:
            audio = fut.result()
            if audio is not None:  # else the resumable save's folder has it
                self._synth.keep_unheard(req, audio)

    def _local_piece(self, i: int) -> Audio:
        assert self._synth.local is not None
        a, b = self.spans[i]
        if self.cancel_event.is_set():
            raise StoppedError("stopped")
        if i in self.plan.silences:
            return self.silence(i)
        voicing = self.voicing_of(i)
        pcm, rate = self._synth.local.synthesize(
            self.text[a:b], rate=voicing.rate, volume=voicing.volume
        )
        return Audio(pcm, "pcm", rate)


def start_job(
    synth: Synthesizer,
    text: str | Script,
    voicing: Voicing,
    *,
    format: str = "pcm",
    window: int = 6,
    fallback: bool = False,
    keep: SaveState | None = None,
    cues: bool = False,
    ahead_seconds: float | None = None,
    markup: str = "auto",
    split: Callable[[str], list[tuple[int, int]]] | None = None,
) -> Job:
    """Begin fetching ``text``; raises :class:`InvalidInputError` for unusable text.

    With ``fallback`` (and a local voice), pieces the cloud cannot give are spoken
    by the platform's voice (PCM only). With ``keep``, pieces it already holds are
    not fetched, and each piece that arrives is kept there (see ``_resume``). With
    ``cues``, each piece is one subtitle cue (see ``_cues``). With ``ahead_seconds``,
    the pieces fetched ahead hold at most about that much audio beyond the next one
    (a slow consumer's memory). ``markup``: ``"auto"``, ``"ssml"`` or ``"off"`` (see
    ``_markup``); a :class:`Script` is taken as parsed. ``split``: how the text is cut
    into requests (``speech_pieces`` by default)."""
    job = Job(
        synth,
        text,
        voicing,
        format=format,
        window=window,
        keep=keep,
        cues=cues,
        ahead_seconds=ahead_seconds,
        markup=markup,
        split=split,
    )
    job.allow_fallback(fallback)
    return job
