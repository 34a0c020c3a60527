"""The synthesizer: one client, the cache and a small worker pool, shared by every job
of one engine. ``fetch`` gives one piece: from the cache, else from the API (then
cached), through the fallback's circuit breaker."""

from __future__ import annotations

import collections
import copy
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future

from .._cancel import CancelToken, wait_any
from .._closing import Closing
from .._config import (
    DEFAULT_CLOUD_WAIT,
    DEFAULT_MAX_BILLED,
    Settings,
    missing_key_error,
    speech_settings,
)
from .._model import Audio, Request, Voicing
from .._pool import DaemonPool
from ..api import KuhuClient, request_for
from ..audio import LocalVoice
from ..errors import InvalidInputError, KuhuError, StoppedError
from ._cache import AudioCache
from ._fallback import CloudBreaker

#: How long after ``warm_up`` the connection is first opened: a program that inits and
#: ends at once must not wait at its exit for this thread's imports (httpx, TLS), which
#: the exit does wait for (see ``api._exit``).
WARM_DELAY = 0.2
#: How long after the last request a connection is kept ready (a new one opened, TCP
#: and TLS only, before the last goes stale: see ``KuhuClient.keep_alive``).
KEEP_WARM_FOR = 120.0
#: How many answers that came too late to be played are kept in memory.
UNHEARD_KEPT = 16


class Synthesizer(Closing):
    """Client + cache + a small worker pool, shared by every job of one engine."""

    def __init__(
        self,
        client: KuhuClient,
        cache: AudioCache | None = None,
        *,
        workers: int = 8,
        max_billed: int = DEFAULT_MAX_BILLED,
        local: LocalVoice | None = None,
        cloud_wait: float = DEFAULT_CLOUD_WAIT,
    ) -> None:
        self.client = client
        self.max_billed = max_billed
        self.cache = cache
        self.workers = workers
        #: The platform's voice for when the cloud fails (None: no fallback at all).
        self.local = local
        self._cloud_wait = cloud_wait
        self.breaker: CloudBreaker | None = None
        if local is not None:
            self.enable_fallback()
        #: Billed characters that the cache answered (they cost nothing this time).
        self.billed_from_cache = 0
        #: Billed characters of requests that waited for an identical one in flight.
        self.billed_shared = 0
        self._inflight: dict[str, Future[Audio]] = {}
        #: Answers that came after the local voice had spoken their piece, kept so that
        #: they are not bought again (the cache keeps them too, when it is on).
        self._unheard: collections.OrderedDict[str, Audio] = collections.OrderedDict()
        self._pool: DaemonPool | None = None
        self._lock = threading.Lock()
        self._keeper: threading.Thread | None = None
        self._closing = threading.Event()

    @classmethod
    def from_settings(cls, settings: Settings | None = None, **client_kw: object) -> Synthesizer:
        settings = settings or speech_settings()
        client = KuhuClient(settings=settings, **client_kw)  # type: ignore[arg-type]
        cache = (
            AudioCache(settings.cache_dir, settings.cache_max_bytes)
            if settings.cache_dir is not None
            else None
        )
        local = LocalVoice() if settings.fallback != "off" else None
        return cls(
            client,
            cache,
            max_billed=settings.max_billed,
            local=local,
            cloud_wait=settings.cloud_wait,
        )

    def warm_up(self, *, now: bool = False) -> None:
        """Keep a connection to the API ready ahead of need, on a thread of its own:
        the HTTP client built and a connection opened ``WARM_DELAY`` seconds from now,
        then a new one opened shortly before the last goes stale
        (``KuhuClient.keep_alive``: servers close idle connections), for
        ``KEEP_WARM_FOR`` seconds after the last request. So the first request, and one
        after a pause, find one open instead of paying TCP and TLS round trips before
        their first byte. Only TCP and TLS: nothing is sent, nothing billed.

        ``now``: text was queued, so a request follows: see :meth:`open_ahead`."""
        if now:
            self.open_ahead()
        if not self.client.has_key:
            return  # no request will be made: the local voice speaks
        with self._lock:
            if self._keeper is not None and self._keeper.is_alive():
                return
            self._keeper = threading.Thread(
                target=self._keep_warm, args=(self._closing,), name="kuhu-warm", daemon=True
            )
            keeper = self._keeper
        keeper.start()

    def open_ahead(self) -> None:
        """A request follows: a connection that is not open (or not likely to be still)
        is opened at once, TCP and TLS only, for that request to take (see
        ``api._ahead``), while the device opens and httpx is imported."""
        if self.client.has_key and self.client.idle_for() >= self.client.keep_alive:
            self.client.open_ahead()

    def _keep_warm(self, closing: threading.Event) -> None:
        client = self.client
        if closing.wait(WARM_DELAY):
            return
        # A new connection is opened this long before the one at hand goes stale; the
        # keeper looks that often.
        margin = client.keep_alive / 4
        if client.idle_for(margin) >= client.keep_alive - margin:
            client.warm(margin)
        while not closing.wait(margin):
            idle = client.idle_for(margin) >= client.keep_alive - margin
            if idle and client.unused_for() < KEEP_WARM_FOR:
                client.warm(margin)

    def enable_fallback(self) -> None:
        """Let the local voice speak when the cloud cannot (a no-op if it already may).
        The breaker probes with ``KuhuClient.probe`` (never without a key: it opens for
        a missing key, which no probe can mend)."""
        if self.local is None:
            self.local = LocalVoice()
        if self.breaker is None:
            self.breaker = CloudBreaker(probe=self.client.probe, cloud_wait=self._cloud_wait)

    def close(self) -> None:
        self.shutdown()
        if self.breaker is not None:
            self.breaker.close()
        self.client.close()
        if self.local is not None:
            self.local.close()

    def shutdown(self) -> None:
        """Drop queued fetches, and stop keeping the connection open; requests under way
        are aborted (and never keep the interpreter alive: the threads are daemons)."""
        with self._lock:
            pool, self._pool = self._pool, None
            # The keeper is not waited for: it may be importing httpx or waiting for a
            # HEAD, and an engine dropped at once (``pyttsx3.init("kuhu")`` and exit)
            # must not wait for that. It ends by itself: it sees ``closing``, and a
            # closed client sends nothing more.
            self._keeper = None
            closing, self._closing = self._closing, threading.Event()
        closing.set()  # the connection keeper ends (a later warm_up starts another)
        if pool is not None:
            pool.shutdown()

    def submit(self, fn: Callable[[], Audio]) -> Future[Audio]:
        with self._lock:
            if self._pool is None:
                self._pool = DaemonPool(self.workers, "kuhu-fetch")
            return self._pool.submit(fn)

    def fetch(
        self,
        text: str,
        voicing: Voicing,
        format: str,
        cancel: CancelToken,
        *,
        on_slot: Callable[[], None] | None = None,
    ) -> Audio:
        """One piece: from the cache, or from the API (then cached).

        Identical requests in flight at once are one request: the first asks, the others
        wait for its answer (whatever the cache setting), so a phrase queued twice, or
        said and saved, is bought once. If the one asking is stopped, a waiter that was
        not asks itself. ``on_slot()``: the request has been asked (see ``KuhuClient.send``)."""
        if cancel.is_set():
            raise StoppedError("stopped before the request was sent")
        try:
            req = request_for(text, voicing, format)
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(str(exc)) from None
        key = AudioCache.key(str(self.client.url), req)
        with self._lock:
            kept = self._unheard.pop(key, None)
            if kept is not None:
                self.billed_from_cache += req.billed
                return kept
        while True:
            with self._lock:
                shared = self._inflight.get(key)
                if shared is None:
                    mine: Future[Audio] = Future()
                    self._inflight[key] = mine
            if shared is None:
                break
            if on_slot is not None:
                on_slot()  # the identical request it waits for has been asked
            try:
                audio = _wait_for(shared, cancel)
            except StoppedError:
                if cancel.is_set():
                    raise
                continue  # the one asking was stopped, not us: ask again
            with self._lock:
                self.billed_shared += req.billed
            return audio
        try:
            audio = self._fetch_once(req, key, cancel, on_slot)
        except BaseException as exc:
            mine.set_exception(exc)
            raise
        else:
            mine.set_result(audio)
            return audio
        finally:
            with self._lock:
                del self._inflight[key]

    def keep_unheard(self, text: str, voicing: Voicing, format: str, audio: Audio) -> None:
        """Keep an answer that came too late to be played, for the next time its piece
        is asked for (the last ``UNHEARD_KEPT`` of them, in memory)."""
        key = AudioCache.key(str(self.client.url), request_for(text, voicing, format))
        with self._lock:
            self._unheard[key] = audio
            while len(self._unheard) > UNHEARD_KEPT:
                self._unheard.popitem(last=False)

    def _fetch_once(
        self, req: Request, key: str, cancel: CancelToken, on_slot: Callable[[], None] | None
    ) -> Audio:
        if self.cache is not None:
            hit = self.cache.get(key)
            if hit is not None:
                with self._lock:
                    self.billed_from_cache += req.billed
                return hit
        audio = self._send(req, cancel, on_slot)  # counts what it bills; hits cost 0
        if self.cache is not None:
            self.cache.put(key, audio)
        return audio

    def _send(self, req: Request, cancel: CancelToken, on_slot: Callable[[], None] | None) -> Audio:
        """The request, unless the breaker says the cloud is down (then its failure)."""
        breaker = self.breaker
        if breaker is not None:
            cause = breaker.admit()
            if cause is not None:
                raise cause
        sent = time.monotonic()
        began = [sent]  # when the attempt that succeeds began, about

        def failed(exc: KuhuError) -> bool:
            began[0] = time.monotonic()
            return breaker.attempt_failed(exc) if breaker is not None else True

        try:
            if not self.client.has_key:
                raise missing_key_error()
            audio = self.client.send(req, cancel=cancel, on_failure=failed, on_slot=on_slot)
        except KuhuError as exc:
            if breaker is not None and not cancel.is_set():
                breaker.spent(exc, since=sent)  # every attempt failed: the cloud is down
            raise
        if breaker is not None:
            breaker.succeeded(time.monotonic() - began[0])
        return audio


def _wait_for(shared: Future[Audio], cancel: CancelToken) -> Audio:
    """The answer of an identical request in flight; ours is stopped by ``cancel``."""
    answered = CancelToken()
    shared.add_done_callback(lambda _f: answered.set())
    wait_any(answered, cancel)
    if cancel.is_set():
        raise StoppedError("stopped while an identical request was under way")
    try:
        return shared.result()
    except KuhuError as exc:
        raise copy.copy(exc) from exc  # each waiter gets its own exception object
