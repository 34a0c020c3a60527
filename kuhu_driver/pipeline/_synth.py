"""The synthesizer: what every job of one engine (or one session) shares. One client;
the fetcher (``_fetcher``: kept answers, the cache, identical requests in flight, the
breaker); what keeps the connection ready (``_keeper``); a small pool of fetching
threads (``kuhu-fetch``); and the local voice with its breaker, when speech may fall
back to it."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import TypeVar

from .._cancel import CancelToken
from .._closing import Closing
from .._config import DEFAULT_CLOUD_WAIT, DEFAULT_MAX_BILLED, Settings, speech_settings
from .._model import Audio, Request
from .._pool import DaemonPool
from ..api import KuhuClient
from ..local import CloudBreaker, LocalVoice
from ._cache import AudioCache
from ._fetcher import Fetcher
from ._keeper import ConnectionKeeper

T = TypeVar("T")


class Synthesizer(Closing):
    """Client + fetcher + connection keeper + a small worker pool (+ the local voice)."""

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
        self.workers = workers
        self.fetcher = Fetcher(client, cache)
        self.keeper = ConnectionKeeper(client)
        #: The platform's voice for when the cloud fails (None: no fallback at all).
        self.local = local
        self._cloud_wait = cloud_wait
        self.breaker: CloudBreaker | None = None
        if local is not None:
            self.enable_fallback()
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
        return cls(
            client,
            cache,
            max_billed=settings.max_billed,
            local=local,
            cloud_wait=settings.cloud_wait,
        )

    @property
    def cache(self) -> AudioCache | None:
        return self.fetcher.cache

    @property
    def billed_from_cache(self) -> int:
        """Billed characters that the cache (or a kept answer) gave: not bought."""
        return self.fetcher.billed_from_cache

    @property
    def billed_shared(self) -> int:
        """Billed characters of requests that waited for an identical one in flight."""
        return self.fetcher.billed_shared

    def fetch(
        self, req: Request, cancel: CancelToken, *, on_slot: Callable[[], None] | None = None
    ) -> Audio:
        """One piece (see ``Fetcher.fetch``)."""
        return self.fetcher.fetch(req, cancel, on_slot=on_slot)

    def keep_unheard(self, req: Request, audio: Audio) -> None:
        self.fetcher.keep_unheard(req, audio)

    def warm_up(self, *, now: bool = False) -> None:
        """Keep a connection ready (see ``ConnectionKeeper.warm_up``)."""
        self.keeper.warm_up(now=now)

    def enable_fallback(self) -> None:
        """Let the local voice speak when the cloud cannot (a no-op if it already may).
        The breaker probes with ``KuhuClient.probe`` (never without a key: it opens for
        a missing key, which no probe can mend)."""
        if self.local is None:
            self.local = LocalVoice()
        if self.breaker is None:
            self.breaker = CloudBreaker(probe=self.client.probe, cloud_wait=self._cloud_wait)
            self.fetcher.breaker = self.breaker

    def close(self) -> None:
        self.shutdown()
        if self.breaker is not None:
            self.breaker.close()
        self.client.close()
        if self.local is not None:
            self.local.close()

    def shutdown(self) -> None:
        """Drop queued fetches, and stop keeping the connection ready; requests under
        way are aborted (and never keep the interpreter alive: the threads are daemons)."""
        with self._lock:
            pool, self._pool = self._pool, None
        self.keeper.stop()
        if pool is not None:
            pool.shutdown()

    def submit(self, fn: Callable[[], T]) -> Future[T]:
        with self._lock:
            if self._pool is None:
                self._pool = DaemonPool(self.workers, "kuhu-fetch")
            return self._pool.submit(fn)
