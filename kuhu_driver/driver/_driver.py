"""The pyttsx3 driver: ``pyttsx3.init("kuhu")``. Maps pyttsx3's calls onto the speech
pipeline; no HTTP here.

Threads: pyttsx3 calls ``say``/``setProperty``/``stop``… on the thread that pumps its
queue; one worker thread per engine fetches and plays utterances in order and posts
events to a queue; the thread that runs the loop (``runAndWait``, ``startLoop`` or
``iterate``) takes the events from that queue and hands them to pyttsx3. So callbacks
always run on the loop's thread, and every worker failure reaches it as an event.

pyttsx3's proxy may call ``endLoop`` before ``startLoop`` (``runAndWait`` when idle, after
a first round); we remember that, so ``startLoop`` returns at once instead of hanging.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import queue
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from .._cancel import CancelToken, wait_any
from .._config import Settings, speech_settings
from .._pyttsx3 import Pyttsx3Proxy
from ..api import held_at_exit
from ..audio import Player, make_player
from ..errors import CloudFallback, InvalidInputError, KuhuError, StoppedError
from ..pipeline import (
    WARM_DELAY,
    Job,
    Session,
    Synthesizer,
    check_destination,
    compile_patterns,
    play_job,
    save_format,
    save_text,
    start_job,
    word_spans,
)
from ._atexit import track
from ._lookahead import Key, queued_utterances, resumable
from ._props import EngineProperties
from ._task import Event, Task

logger = logging.getLogger(__name__)

_JOIN_SECONDS = 2.0
#: The longest the loop blocks at once (see startLoop).
_CTRL_C_SLICE = 0.5
#: How many queued utterances get their first piece fetched ahead.
LOOKAHEAD = 8
PLAY_WINDOW = 6
SAVE_WINDOW = 3


def buildDriver(proxy: Any) -> KuhuDriver:
    """pyttsx3's entry point: build the driver for a ``DriverProxy``."""
    return KuhuDriver(proxy)


class KuhuDriver:
    """A pyttsx3 driver speaking with the kuhuyun voices. See the module docstring."""

    def __init__(
        self,
        proxy: Any,
        *,
        settings: Settings | None = None,
        player: Player | None = None,
        synthesizer: Synthesizer | None = None,
    ) -> None:
        self._proxy = Pyttsx3Proxy(proxy)
        settings = settings or speech_settings()
        #: The engine's session: its synthesizer is the one every utterance uses, and a
        #: program may stream or save with it too (``kuhu_driver.session_of(engine)``).
        self.session = Session(settings=settings, synthesizer=synthesizer)
        self._synth = self.session.synthesizer
        # One output stream per engine, opened at the first utterance and kept open.
        self._player = player or make_player(settings.audio)
        self._props = EngineProperties(self._synth, settings.fallback, self._has_listeners)
        self._events: queue.Queue[Event | None] = queue.Queue()  # None: endLoop's wake
        self._work: queue.Queue[Task | None] = queue.Queue()
        self._worker: threading.Thread | None = None
        self._lock = threading.Lock()
        self._current: Task | None = None
        self._prefetched: dict[Key, Job] = {}
        self._looping = False
        self._end_pending = False
        # Sound starts only while a loop runs, as pyttsx3 programs expect.
        self._loop_running = CancelToken()
        # The connection to the API is opened now, in the background (nothing printed,
        # nothing billed), so that the first utterance does not pay for it.
        self._synth.warm_up()
        # And the audio library is loaded aside, as soon (no device is opened: that waits
        # for the first utterance, before its request, so that nothing is billed without
        # one).
        self._preloader = threading.Timer(WARM_DELAY, self._preload)
        self._preloader.daemon = True
        self._preloader.name = "kuhu-preload"
        self._preloader.start()
        track(self)  # shut down at exit, before finalization (see _atexit)

    def __repr__(self) -> str:
        return f"KuhuDriver(url={str(self._synth.client.url)!r})"

    def _preload(self) -> None:
        with contextlib.suppress(StoppedError), held_at_exit():  # the exit waits for it
            self._player.preload()
            compile_patterns()

    # -- pyttsx3's driver interface --------------------------------------------------
    def destroy(self) -> None:
        if sys.is_finalizing():
            return  # shut down at atexit already; locks may be held for ever now
        self._shutdown()
        self.session.close()
        self._player.close()

    def say(self, text: object) -> None:
        # A request follows: the connection is opened now if it is not open (and kept
        # open again, if a Ctrl-C or stop ended that).
        self._synth.warm_up(now=True)
        self._begin(self._task("say", text))

    def save_to_file(self, text: object, filename: object) -> None:
        self._synth.warm_up(now=True)
        self._begin(self._task("save", text, os.fspath(filename)))  # type: ignore[call-overload]

    def _task(self, kind: str, text: object, path: str | None = None) -> Task:
        props = self._props.props
        name = self._proxy_name()
        return Task(kind, text, name, props.voicing(), path=path, markup=props.markup)

    def pause(self) -> None:
        """Hold the engine's one stream where it is (``kuhu_driver.pause(engine)``)."""
        self._player.pause()

    def resume(self) -> None:
        self._player.resume()

    def stop(self) -> None:
        with self._lock:
            task = self._current
            if task is not None:
                task.cancel.set()
                if task.job is not None:
                    task.job.cancel()
            pre, self._prefetched = self._prefetched, {}
        for job in pre.values():
            job.cancel()
        if task is not None and task.kind == "say":
            self._player.stop()  # silence now, whichever thread asks

    def startLoop(self) -> None:
        if self._end_pending:
            self._end_pending = False
            return
        self._looping = True
        self._loop_running.set()
        try:
            if self._current is None:
                self._proxy.set_busy(False)
            while self._looping:
                # Woken by each event, and by endLoop from any thread; the bound is
                # only so that Ctrl-C is seen on Windows, where a blocking get is not
                # interrupted by it.
                self._dispatch(timeout=_CTRL_C_SLICE)
            self._drain_current()
        except BaseException:
            self._looping = False
            self._shutdown()
            raise
        finally:
            self._loop_running.clear()

    def endLoop(self) -> None:
        if self._looping:
            self._looping = False
            self._events.put(None)  # wakes the loop if another thread ended it
        else:
            self._end_pending = True

    def iterate(self) -> Iterator[None]:
        self._loop_running.set()
        if self._current is None:
            self._proxy.set_busy(False)
        while True:
            while self._dispatch(timeout=None):
                pass
            yield

    def getProperty(self, name: str) -> object:
        return self._props.get(name)

    def setProperty(self, name: str, value: object) -> None:
        self._props.set(name, value)

    # -- internals ---------------------------------------------------------------------
    def _proxy_name(self) -> str | None:
        # pyttsx3 sets the name of the command it is running; events carry it.
        return self._proxy.command_name()

    def _has_listeners(self, topic: str) -> bool:
        return self._proxy.has_listeners(topic)

    def _begin(self, task: Task) -> None:
        self._proxy.set_busy(True)
        with self._lock:
            self._current = task
        self._ensure_worker()
        self._work.put(task)

    def _ensure_worker(self) -> None:
        if self._worker is None or not self._worker.is_alive():
            self._worker = threading.Thread(
                target=self._work_loop, name="kuhu-speaker", daemon=True
            )
            self._worker.start()

    def _dispatch(self, timeout: float | None) -> bool:
        try:
            ev = (
                self._events.get(timeout=timeout)
                if timeout is not None
                else self._events.get_nowait()
            )
        except queue.Empty:
            return False
        if ev is None:
            return True  # endLoop woke the loop: nothing to deliver
        if ev.topic is None:
            with self._lock:
                if self._current is ev.task:
                    self._current = None
            if self._looping or self._loop_running.is_set():
                self._proxy.set_busy(False)
            return True
        exc = ev.args.get("exception")
        if (
            ev.topic == "error"
            and not isinstance(exc, CloudFallback)  # logged already, and not a failure
            and not self._has_listeners("error")
        ):
            logger.warning("utterance %r failed: %s", ev.task.name, exc)
        self._proxy.notify(ev.topic, name=ev.task.name, **ev.args)
        return True

    def _drain_current(self) -> None:
        """After endLoop: deliver what the stopped utterance still has to say."""
        with self._lock:
            task = self._current
        if task is None:
            return
        end = time.monotonic() + _JOIN_SECONDS
        while (left := end - time.monotonic()) > 0:
            with self._lock:
                if self._current is not task:
                    return
            self._dispatch(timeout=left)  # woken by the worker's next event

    def _shutdown(self) -> None:
        """Stop everything and let no thread stay behind."""
        self._preloader.cancel()
        self.stop()
        self._synth.shutdown()
        worker = self._worker
        if worker is not None and worker.is_alive():
            self._work.put(None)
            if worker is not threading.current_thread():
                worker.join(_JOIN_SECONDS)
        self._worker = None

    def _post(self, task: Task, topic: str | None, **args: Any) -> None:
        self._events.put(Event(task, topic, args))

    def _work_loop(self) -> None:
        while True:
            task = self._work.get()
            if task is None:
                return
            try:
                self._run(task)
            except BaseException as exc:  # a bug of ours: hand it to the loop, keep going
                logger.exception("internal error while speaking")
                self._post(task, "error", exception=exc)
                self._post(task, "finished-utterance", completed=False)
            finally:
                self._post(task, None)

    def _adopt_job(self, task: Task, fmt: str, window: int) -> Job:
        """The task's job: the prefetched one if it matches, else a new one."""
        if not isinstance(task.text, str):
            raise InvalidInputError(f"text must be a str, not {type(task.text).__name__}")
        with self._lock:
            job = self._prefetched.pop((task.text, task.voicing, fmt, task.markup), None)
        if job is None:
            job = start_job(
                self._synth, task.text, task.voicing, format=fmt, window=window, markup=task.markup
            )
        else:
            job.widen(window)
        job.allow_fallback(self._props.falls_back(task.kind))
        with self._lock:
            task.job = job
            if task.cancel.is_set():
                job.cancel()
        return job

    def _run(self, task: Task) -> None:
        started = False

        def start() -> None:
            nonlocal started
            if not started:
                started = True
                self._post(task, "started-utterance")

        completed = False
        try:
            if task.cancel.is_set():
                raise StoppedError("stopped before it began")
            if task.kind == "say":
                completed = self._speak(task, start)
            else:
                start()
                completed = self._save(task)
        except StoppedError:
            completed = False
        except KuhuError as exc:
            start()
            self._post(task, "error", exception=exc)
        start()
        self._post(task, "finished-utterance", completed=completed)

    def _speak(self, task: Task, start: Callable[[], None]) -> bool:
        # The device first: without one, nothing is sent (or billed) for this utterance.
        self._player.prepare(task.voicing.sample_rate)
        job = self._adopt_job(task, "pcm", window=PLAY_WINDOW)
        self._prefetch()

        def fell_back(notice: CloudFallback) -> None:
            start()  # the notice comes after started-utterance, like any error
            self._post(task, "error", exception=notice)

        job.on_fallback = fell_back

        def gate() -> None:
            # Synthesis may run ahead of the loop; sound waits for it.
            wait_any(self._loop_running, job.cancel_event)

        return play_job(
            job,
            self._player,
            on_start=start,
            on_word=lambda loc, n: self._word(task, job, loc, n),
            before_play=gate,
            more_follows=self._utterance_follows,
            on_mark=lambda mark: self._post(task, "mark", mark=mark),
        )

    def _word(self, task: Task, job: Job, location: int, length: int) -> None:
        """``started-word`` at the word's place in the text as given (markup and all)."""
        location, length = job.script.source_span(location, length)
        self._post(task, "started-word", location=location, length=length)

    def _queued(self) -> Iterator[Key | None]:
        return queued_utterances(
            self._proxy.pending(),
            self._props.props,
            say=self.say,
            save=self.save_to_file,
            set_property=self.setProperty,
        )

    def _utterance_follows(self) -> bool:
        """Whether pyttsx3's queue holds another utterance before the loop's end."""
        return next(self._queued(), False) is not False

    def _prefetch(self) -> None:
        """Fetch the first piece of the next queued utterances, with the properties each
        will be spoken with, so that they follow each other without waiting."""
        wanted = [k for k in itertools.islice(self._queued(), LOOKAHEAD) if k]
        with self._lock:
            keep = set(wanted)
            stale = [job for key, job in self._prefetched.items() if key not in keep]
            self._prefetched = {k: j for k, j in self._prefetched.items() if k in keep}
            # One job per distinct utterance: a phrase queued twice is fetched once.
            missing = list(dict.fromkeys(k for k in wanted if k not in self._prefetched))
        for job in stale:
            job.cancel()
        for key in missing:
            try:  # fallback is decided when the job is adopted (say or save)
                job = start_job(self._synth, key[0], key[1], format=key[2], window=1, markup=key[3])
            except KuhuError:
                continue  # its own turn will report the error
            with self._lock:
                self._prefetched[key] = job

    def _save(self, task: Task) -> bool:
        assert task.path is not None
        path = check_destination(task.path)  # before anything is sent (and billed)
        adopted = None
        if not (isinstance(task.text, str) and resumable(task.text)):
            # A long save keeps its pieces beside the output, so a crash or stop() is
            # resumed by the next run (it is never fetched ahead, see _queued_utterances).
            adopted = self._adopt_job(task, save_format(path), window=SAVE_WINDOW)
        assert isinstance(task.text, str)  # else _adopt_job refused it

        def began(job: Job) -> Callable[[int], None]:
            with self._lock:
                task.job = job
                if task.cancel.is_set():
                    job.cancel()
            job.on_fallback = lambda notice: self._post(task, "error", exception=notice)
            self._prefetch()
            return lambda index: self._words_written(task, job, index)

        return save_text(
            self._synth,
            task.text,
            task.voicing,
            path,
            window=SAVE_WINDOW,
            fallback=self._props.falls_back(task.kind),
            job=adopted,
            on_job=began,
            markup=task.markup,
        )

    def _words_written(self, task: Task, job: Job, index: int) -> None:
        # As pyttsx3's own drivers do while saving: each word once its audio is in the
        # file, in order (a resumed save's earlier pieces are not told again).
        a, b = job.spans[index]
        for loc, n in word_spans(job.text[a:b]):
            self._word(task, job, a + loc, n)
