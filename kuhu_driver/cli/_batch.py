"""Many short texts to many files, in parallel within the rate limit, resumable."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass
from pathlib import Path

from .._model import Voicing
from .._pool import DaemonPool
from ..errors import InvalidInputError, KuhuError
from ..pipeline import Job, Synthesizer, check_destination, save_format, start_job, write_job


@dataclass
class BatchResult:
    written: list[Path]
    skipped: list[Path]
    failed: list[tuple[Path, KuhuError]]


def run_batch(
    items: Sequence[tuple[int, str]],
    out_dir: Path,
    synth: Synthesizer,
    voicing: Voicing,
    *,
    fmt: str = "wav",
    workers: int = 8,
    on_progress: Callable[[int, int], None] | None = None,
    markup: str = "auto",
) -> BatchResult:
    """Write ``out_dir/NNNN.fmt`` for each ``(number, text)``; existing files are kept.

    Files appear atomically, so a file that exists is complete: running again after an
    interruption only does what is missing.
    """
    api_format = save_format(f"x.{fmt}")  # InvalidInputError (a ValueError) if unknown
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InvalidInputError(f"cannot write into {out_dir}: {exc.strerror or exc}") from None
    check_destination(out_dir / f"0000.{fmt}")  # before anything is billed
    width = max(4, len(str(max((n for n, _ in items), default=0))))
    result = BatchResult([], [], [])
    todo: list[tuple[Path, str]] = []
    for number, text in items:
        path = out_dir / f"{number:0{width}d}.{fmt}"
        if path.exists():
            result.skipped.append(path)
        else:
            todo.append((path, text))
    done = len(result.skipped)
    total = len(items)
    lock = threading.Lock()
    if on_progress is not None:
        on_progress(done, total)

    jobs: list[Job] = []

    def one(path: Path, text: str) -> None:
        job = start_job(synth, text, voicing, format=api_format, window=2, markup=markup)
        with lock:
            jobs.append(job)
        write_job(job, path)

    # Daemon threads: Ctrl-C ends the batch at once, not after the requests in flight.
    pool = DaemonPool(max(1, workers), "kuhu-batch")
    try:
        futures = {pool.submit(functools.partial(one, path, text)): path for path, text in todo}
        for fut in _as_completed_in_slices(futures):
            path = futures[fut]
            try:
                fut.result()
                result.written.append(path)
            except KuhuError as exc:
                result.failed.append((path, exc))
            with lock:
                done += 1
                if on_progress is not None:
                    on_progress(done, total)
    except BaseException:
        with lock:
            for job in jobs:
                job.cancel()  # their partial files are removed as they stop
        raise
    finally:
        pool.shutdown()
    result.written.sort()
    return result


def _as_completed_in_slices(futures: Iterable[Future[None]]) -> Iterator[Future[None]]:
    """``as_completed``, waiting at most 0.2 s at a time: on Windows before Python 3.14
    a lock wait cannot be interrupted, so Ctrl-C would wait for the next file to end."""
    pending = set(futures)
    while pending:
        done, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
        yield from done
