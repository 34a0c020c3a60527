"""A small thread pool whose threads never keep the interpreter alive.

``concurrent.futures.ThreadPoolExecutor`` joins its threads when the interpreter exits,
so one request held by a slow or silent server kept a program that had been stopped, or
interrupted with Ctrl-C, alive for as long as that request could take. Work given to
this pool is network I/O whose result nobody wants after exit, so daemon threads are
right here; every result or exception still reaches whoever waits, through its Future.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import TypeVar

T = TypeVar("T")
_Item = tuple["Future[object]", Callable[[], object]]


class DaemonPool:
    """Up to ``workers`` daemon threads, started as work arrives."""

    def __init__(self, workers: int, name: str) -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self.workers = workers
        self.name = name
        self._queue: queue.SimpleQueue[_Item | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._idle = 0
        self._closed = False

    def submit(self, fn: Callable[[], T]) -> Future[T]:
        fut: Future[T] = Future()
        with self._lock:
            if self._closed:
                raise RuntimeError("the pool was shut down")
            self._queue.put((fut, fn))  # type: ignore[arg-type]
            if self._idle == 0 and len(self._threads) < self.workers:
                t = threading.Thread(
                    target=self._work, name=f"{self.name}-{len(self._threads)}", daemon=True
                )
                self._threads.append(t)
                t.start()
            elif self._idle:
                self._idle -= 1  # an idle thread will take it
        return fut

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            fut, fn = item
            if fut.set_running_or_notify_cancel():
                try:
                    result = fn()
                except BaseException as exc:  # handed to whoever waits on the future
                    fut.set_exception(exc)
                else:
                    fut.set_result(result)
                    # An idle thread must not keep its last result (audio) alive.
                    del result
            del item, fut, fn
            with self._lock:
                self._idle += 1

    def shutdown(self) -> None:
        """Cancel work not yet started; threads end after the work they are doing."""
        with self._lock:
            self._closed = True
            threads = len(self._threads)
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                item[0].cancel()
        for _ in range(threads):
            self._queue.put(None)
