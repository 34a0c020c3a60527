"""The synthesizer: one client, the cache and a small worker pool, shared by every job
of one engine. ``fetch`` gives one piece: from the cache, else from the API (then
cached), through the fallback's circuit breaker."""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout

from .._closing import Closing
from .._config import DEFAULT_MAX_BILLED, Settings, missing_key_error, speech_settings
from .._model import Audio, Request, Voicing
from .._pool import DaemonPool
from ..api import KuhuClient, request_for
from ..audio import LocalVoice
from ..errors import CancelledError, InvalidInputError, KuhuError
from ._cache import AudioCache
from ._fallback import CloudBreaker


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
    ) -> None:
        self.client = client
        self.max_billed = max_billed
        self.cache = cache
        self.workers = workers
        #: The platform's voice for when the cloud fails (None: no fallback at all).
        self.local = local
        self.breaker = CloudBreaker() if local is not None else None
        #: Billed characters that the cache answered (they cost nothing this time).
        self.billed_from_cache = 0
        #: Billed characters of requests that waited for an identical one in flight.
        self.billed_shared = 0
        self._inflight: dict[str, Future[Audio]] = {}
        self._pool: DaemonPool | None = None
        self._lock = threading.Lock()

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
        return cls(client, cache, max_billed=settings.max_billed, local=local)

    def close(self) -> None:
        self.shutdown()
        self.client.close()
        if self.local is not None:
            self.local.close()

    def shutdown(self) -> None:
        """Drop queued fetches; requests under way are aborted (and never keep the
        interpreter alive: the pool's threads are daemons)."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown()

    def submit(self, fn: Callable[[], Audio]) -> Future[Audio]:
        with self._lock:
            if self._pool is None:
                self._pool = DaemonPool(self.workers, "kuhu-fetch")
            return self._pool.submit(fn)

    def fetch(self, text: str, voicing: Voicing, format: str, cancel: threading.Event) -> Audio:
        """One piece: from the cache, or from the API (then cached).

        Identical requests in flight at once are one request: the first asks, the others
        wait for its answer (whatever the cache setting), so a phrase queued twice, or
        said and saved, is bought once. If the one asking is stopped, a waiter that was
        not asks itself."""
        if cancel.is_set():
            raise CancelledError("stopped before the request was sent")
        try:
            req = request_for(text, voicing, format)
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(str(exc)) from None
        key = AudioCache.key(str(self.client.url), req)
        while True:
            with self._lock:
                shared = self._inflight.get(key)
                if shared is None:
                    mine: Future[Audio] = Future()
                    self._inflight[key] = mine
            if shared is None:
                break
            try:
                audio = _wait_for(shared, cancel)
            except CancelledError:
                if cancel.is_set():
                    raise
                continue  # the one asking was stopped, not us: ask again
            with self._lock:
                self.billed_shared += req.billed
            return audio
        try:
            audio = self._fetch_once(req, key, cancel)
        except BaseException as exc:
            mine.set_exception(exc)
            raise
        else:
            mine.set_result(audio)
            return audio
        finally:
            with self._lock:
                del self._inflight[key]

    def _fetch_once(self, req: Request, key: str, cancel: threading.Event) -> Audio:
        if self.cache is not None:
            hit = self.cache.get(key)
            if hit is not None:
                with self._lock:
                    self.billed_from_cache += req.billed
                return hit
        audio = self._send(req, cancel)  # counts what it bills; hits cost 0
        if self.cache is not None:
            self.cache.put(key, audio)
        return audio

    def _send(self, req: Request, cancel: threading.Event) -> Audio:
        """The request, unless the breaker says the cloud is down (then its failure)."""
        probe = False
        if self.breaker is not None:
            probe, cause = self.breaker.admit()
            if cause is not None:
                raise cause
        breaker = self.breaker
        try:
            if not self.client.has_key:
                raise missing_key_error()
            audio = self.client.send(
                req,
                cancel=cancel,
                on_failure=(
                    None
                    if breaker is None
                    else lambda exc: breaker.attempt_failed(exc, probe=probe)
                ),
            )
        except KuhuError as exc:
            if breaker is not None:
                if not self.client.has_key:
                    breaker.attempt_failed(exc, probe=probe)
                breaker.abandoned(probe=probe)
            raise
        except BaseException:
            if self.breaker is not None:
                self.breaker.abandoned(probe=probe)
            raise
        if self.breaker is not None:
            self.breaker.succeeded()
        return audio


def _wait_for(shared: Future[Audio], cancel: threading.Event) -> Audio:
    """The answer of an identical request in flight; ours is stopped by ``cancel``."""
    while True:
        if cancel.is_set():
            raise CancelledError("stopped while an identical request was under way")
        try:
            audio = shared.result(timeout=0.05)
        except FutureTimeout:  # not the builtin TimeoutError before Python 3.11
            continue
        except KuhuError as exc:
            raise copy.copy(exc) from exc  # each waiter gets its own exception object
        return audio
