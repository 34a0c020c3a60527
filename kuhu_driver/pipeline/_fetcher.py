"""The fetcher: one piece's audio, bought at most once. From the answers that came too
late to be played (kept in memory), the cache, or an identical request in flight;
else from the API, through the fallback's circuit breaker (then cached)."""

from __future__ import annotations

import collections
import copy
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future

from .._cancel import CancelToken, wait_any
from .._config import missing_key_error
from .._model import Audio, Request
from ..api import KuhuClient
from ..errors import KuhuError, StoppedError
from ..local import CloudBreaker
from ._cache import AudioCache

#: How many answers that came too late to be played are kept in memory.
UNHEARD_KEPT = 16


class Fetcher:
    """See the module docstring. Its counters say what was not bought: billed
    characters the cache (or a kept answer) gave, and those of requests that waited for
    an identical one in flight."""

    def __init__(self, client: KuhuClient, cache: AudioCache | None) -> None:
        self.client = client
        self.cache = cache
        #: The circuit breaker, once the local voice may speak (``enable_fallback``).
        self.breaker: CloudBreaker | None = None
        self.billed_from_cache = 0
        self.billed_shared = 0
        self._endpoint = str(client.url)
        self._inflight: dict[str, Future[Audio]] = {}
        self._unheard: collections.OrderedDict[str, Audio] = collections.OrderedDict()
        self._lock = threading.Lock()

    def fetch(
        self,
        req: Request,
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
        key = req.cache_key(self._endpoint)
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

    def keep_unheard(self, req: Request, audio: Audio) -> None:
        """Keep an answer that came too late to be played, for the next time its piece
        is asked for (the last ``UNHEARD_KEPT`` of them, in memory)."""
        key = req.cache_key(self._endpoint)
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
