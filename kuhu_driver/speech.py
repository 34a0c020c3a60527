"""From text to sound: chunk, fetch pieces concurrently (cache first), play them in order.

``Synthesizer.start()`` returns a :class:`Job` that begins fetching at once: the first
piece is short (one sentence) so that first sound comes after one short round trip,
and the rest are fetched by a small pool of workers within the process-wide rate
limit, at most ``window`` pieces ahead of playback so that memory stays bounded.
"""

from __future__ import annotations

import contextlib
import glob
import logging
import os
import re
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from itertools import accumulate
from pathlib import Path

from ._closing import Closing
from ._pool import DaemonPool
from .audio import convert_pcm, wav_header
from .cache import AudioCache
from .client import Audio, KuhuClient, Request, build_request
from .config import DEFAULT_MAX_BILLED, Settings, missing_key_error, speech_settings
from .errors import CancelledError, CloudFallback, InvalidInputError, KuhuError, TransportError
from .fallback import FIRST_PIECE_WAIT, CloudBreaker, falls_back
from .local import LocalVoice
from .playback import Player, Segment, make_player
from .properties import Properties, Voicing
from .resume import SaveState, save_id
from .text import billed_chars, char_costs, clean_text, speech_pieces, word_spans

__all__ = [
    "SAVE_FORMATS",
    "Job",
    "Piece",
    "Synthesizer",
    "check_destination",
    "play_job",
    "save_format",
    "speak",
    "start_save",
    "write_job",
]

#: File extension -> the format asked of the API (WAV is written around PCM).
SAVE_FORMATS = {".wav": "pcm", ".mp3": "mp3", ".pcm": "pcm", ".raw": "pcm"}

logger = logging.getLogger(__name__)

#: How much of an utterance is left to play when the next one is handed to the player.
HANDOVER_SECONDS = 0.06


@dataclass(frozen=True)
class Piece:
    index: int
    start: int
    end: int
    audio: Audio


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

    def _submit(self, fn: Callable[[], Audio]) -> Future[Audio]:
        with self._lock:
            if self._pool is None:
                self._pool = DaemonPool(self.workers, "kuhu-fetch")
            return self._pool.submit(fn)

    def start(
        self,
        text: str,
        voicing: Voicing,
        *,
        format: str = "pcm",
        window: int = 6,
        fallback: bool = False,
        keep: SaveState | None = None,
    ) -> Job:
        """Begin fetching ``text``; raises :class:`InvalidInputError` for unusable text.

        With ``fallback`` (and a local voice), pieces the cloud cannot give are spoken
        by the platform's voice (PCM only). With ``keep``, pieces it already holds are
        not fetched, and each piece that arrives is kept there (see ``resume``)."""
        job = Job(self, text, voicing, format=format, window=window, keep=keep)
        job.allow_fallback(fallback)
        return job

    def fetch(self, text: str, voicing: Voicing, format: str, cancel: threading.Event) -> Audio:
        """One piece: from the cache, or from the API (then cached)."""
        if cancel.is_set():
            raise CancelledError("stopped before the request was sent")
        try:
            req = build_request(
                text,
                voice=voicing.voice,
                format=format,
                sample_rate=voicing.sample_rate,
                volume=voicing.volume,
                rate=voicing.rate,
                pitch=voicing.pitch,
            )
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(str(exc)) from None
        key = AudioCache.key(str(self.client.url), req) if self.cache is not None else ""
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


class Job:
    """The pieces of one text, fetched ahead and handed out strictly in order."""

    def __init__(
        self,
        synth: Synthesizer,
        text: str,
        voicing: Voicing,
        *,
        format: str,
        window: int,
        keep: SaveState | None = None,
    ) -> None:
        try:
            self.text = clean_text(text)
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(str(exc)) from None
        billed = billed_chars(self.text)
        if billed > synth.max_billed:
            raise InvalidInputError(
                f"the text bills {billed} characters (about {billed / 10_000:.2f} yuan), more "
                f"than the {synth.max_billed} allowed for one utterance; split it, or raise "
                "KUHU_MAX_BILLED if you mean it"
            )
        self.voicing = voicing
        self.format = format
        self.spans = speech_pieces(self.text)
        self.cancel_event = threading.Event()
        #: Called once, with the notice, when the local voice takes over.
        self.on_fallback: Callable[[CloudFallback], None] | None = None
        self._fallback = False
        self._local_from: int | None = None  # the first piece the local voice speaks
        self._born = time.monotonic()
        self._synth = synth
        self._window = max(1, window)
        self._futures: list[Future[Audio] | None] = [None] * len(self.spans)
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
        self.widen(self._window)

    def allow_fallback(self, allowed: bool) -> None:
        """Whether pieces the cloud cannot give may be spoken by the local voice (PCM)."""
        self._fallback = allowed and self.format == "pcm" and self._synth.local is not None

    def widen(self, window: int) -> None:
        """Fetch up to ``window`` pieces ahead (a prefetched job starts with one)."""
        with self._submit_lock:
            self._window = max(self._window, window)
            while (
                self._local_from is None
                and self._next < len(self.spans)
                and self._next - self._consumed < self._window
            ):
                self._submit_next()

    def _submit_next(self) -> None:
        i = self._next
        a, b = self.spans[i]
        piece = self.text[a:b]
        keep = self._keep
        stored = keep.stored(i) if keep is not None and i in self._kept else None
        if stored is not None:
            fut: Future[Audio] = Future()
            fut.set_result(stored)
            self.billed_reused += billed_chars(piece)
        else:

            def fetch() -> Audio:
                audio = self._synth.fetch(piece, self.voicing, self.format, self.cancel_event)
                if keep is not None:
                    keep.store(i, audio)  # kept the moment it arrives
                return audio

            fut = self._synth._submit(fetch)
        fut.add_done_callback(lambda _f: self._changed.set())
        self._futures[i] = fut
        self._next += 1

    def cancel(self) -> None:
        """Stop: pending requests are dropped, waiting and playback end."""
        self.cancel_event.set()
        self._changed.set()
        for fut in self._futures:
            if fut is not None:
                fut.cancel()
        self._synth.client.abort(self.cancel_event)  # answers being read end now

    @property
    def cancelled(self) -> bool:
        return self.cancel_event.is_set()

    def __iter__(self) -> Iterator[Piece]:
        for i, (a, b) in enumerate(self.spans):
            if i < self.first_piece:
                continue  # written by an earlier run
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
            yield Piece(index=i, start=a, end=b, audio=audio)

    def _cloud_piece(self, i: int) -> Audio:
        fut = self._futures[i]
        assert fut is not None
        # With a local voice to fall back on, a piece playback waits for is given a
        # deadline: the first from the job's start, the others from when it is needed.
        since = self._born if i == 0 else time.monotonic()
        while not fut.done():
            if self.cancel_event.is_set():
                raise CancelledError("stopped")
            if self._fallback and time.monotonic() - since > FIRST_PIECE_WAIT:
                exc = TransportError(f"the cloud did not answer within {FIRST_PIECE_WAIT:g} s")
                if self._synth.breaker is not None:
                    self._synth.breaker.trip(exc)
                raise exc
            self._changed.wait(0.05 if self._fallback else 0.5)
            self._changed.clear()
        if self.cancel_event.is_set():
            raise CancelledError("stopped")
        return fut.result()

    def _take_over(self, i: int, exc: KuhuError) -> bool:
        """Let the local voice speak from piece ``i`` on, if it may and can."""
        local = self._synth.local
        if not (self._fallback and falls_back(exc) and local is not None and local.available()):
            return False
        self._local_from = i
        for fut in self._futures[i:]:
            if fut is not None:
                fut.cancel()
        notice = CloudFallback(exc, piece=i)
        logger.warning("%s", notice)
        if self.on_fallback is not None:
            self.on_fallback(notice)
        return True

    def _local_piece(self, i: int) -> Audio:
        assert self._synth.local is not None
        a, b = self.spans[i]
        if self.cancel_event.is_set():
            raise CancelledError("stopped")
        pcm, rate = self._synth.local.synthesize(
            self.text[a:b], rate=round(200 * self.voicing.rate), volume=self.voicing.volume / 100
        )
        return Audio(pcm, "pcm", rate)


def play_job(
    job: Job,
    player: Player,
    *,
    on_start: Callable[[], None] | None = None,
    on_word: Callable[[int, int], None] | None = None,
    before_play: Callable[[], None] | None = None,
    on_piece: Callable[[int], None] | None = None,
    more_follows: Callable[[], bool] | None = None,
) -> bool:
    """Play ``job``'s pieces in order as each arrives; True if all of it played.

    Each piece is queued on the player's one stream as soon as it has arrived and the
    piece before it is playing, so pieces follow each other sample for sample.
    ``on_start`` runs before the first sound; ``on_word(location, length)`` runs (on the
    player's thread) as the device takes each word's first sample. After the last piece
    it waits until the device has played it, unless ``more_follows()`` says another
    utterance comes next. Returns False if the job was cancelled; raises
    :class:`KuhuError` on failure, after the audio already queued has been heard.
    """
    started = False
    playing: tuple[Segment, int] | None = None  # the piece now sounding, and its index
    try:
        for piece in job:
            if before_play is not None:
                before_play()
            if job.cancelled:
                player.stop()
                return False
            if not started:
                started = True
                if on_start is not None:
                    on_start()
            seg = _segment(job, piece, on_word)
            player.enqueue(seg)
            if playing is not None:
                if not player.wait(playing[0], job.cancel_event, drain=False):
                    return False
                if on_piece is not None:
                    on_piece(playing[1])
            playing = (seg, piece.index)
    except CancelledError:
        player.stop()
        return False
    except KuhuError:
        if playing is not None:  # what was sent is heard to its end; nothing after it
            player.wait(playing[0], job.cancel_event, drain=True)
        raise
    if playing is None:
        return True
    drain = more_follows is None or not more_follows()
    # With another utterance next, return while a little of this one is still to be
    # taken, so that the next one is queued before the stream runs dry.
    lead = 0.0 if drain else HANDOVER_SECONDS
    if not player.wait(playing[0], job.cancel_event, drain=drain, lead=lead):
        return False
    if on_piece is not None:
        on_piece(playing[1])
    return True


def _segment(job: Job, piece: Piece, on_word: Callable[[int, int], None] | None) -> Segment:
    """The piece as a player segment, with its words at their frame offsets."""
    pcm, rate = piece.audio.data, piece.audio.sample_rate
    frames = len(pcm) // 2
    # Words of this piece only: scanning the whole text per piece is quadratic.
    text = job.text[piece.start : piece.end]
    words = word_spans(text)
    prefix = [0, *accumulate(char_costs(text))]
    total = prefix[-1] or 1
    marks = [frames * prefix[loc] // total for loc, _ in words]
    mine = [(piece.start + loc, n) for loc, n in words]

    def mark(i: int) -> None:
        if on_word is not None:
            on_word(*mine[i])

    return Segment(pcm, rate, marks, mark if on_word is not None else None)


def save_format(path: str | os.PathLike[str]) -> str:
    """The API format to ask for when saving to ``path``, which the extension decides."""
    fmt = SAVE_FORMATS.get(Path(path).suffix.lower())
    if fmt is None:
        raise InvalidInputError(
            f"cannot save {Path(path).name!r}: use a file name ending in "
            f"{', '.join(SAVE_FORMATS)} (the format follows the extension)"
        )
    return fmt


def check_destination(path: str | os.PathLike[str]) -> Path:
    """``path`` if a file can be written there; else :class:`InvalidInputError`. Called
    before the first request, so that a bad destination costs nothing."""
    target = Path(path).expanduser()
    if target.is_dir():
        raise InvalidInputError(f"cannot write {target}: it is a folder")
    folder = target.parent
    if not folder.is_dir():
        raise InvalidInputError(f"cannot write {target}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise InvalidInputError(f"cannot write {target}: the folder {folder} is not writable")
    return target


def _umask() -> int:
    mask = os.umask(0o022)  # the only way to read it; put back at once
    os.umask(mask)
    return mask


#: A save bigger than this keeps its pieces beside the output until done, so that it can
#: resume (see ``resume``); smaller ones cost at most 0.2 yuan to do again.
RESUMABLE_BILLED = 2000


def start_save(
    synth: Synthesizer,
    text: str,
    voicing: Voicing,
    path: Path,
    *,
    window: int = 3,
    fallback: bool = False,
) -> tuple[Job, SaveState | None]:
    """Begin a save to ``path``: a long one resumes from the pieces an earlier run of the
    same save left. Pass both results to :func:`write_job`."""
    fmt = save_format(path)
    try:
        cleaned = clean_text(text)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(str(exc)) from None
    if billed_chars(cleaned) <= RESUMABLE_BILLED:
        return synth.start(text, voicing, format=fmt, window=window, fallback=fallback), None
    keep = SaveState(path.expanduser(), save_id(str(synth.client.url), voicing, fmt, cleaned))
    try:
        keep.open()
        job = synth.start(text, voicing, format=fmt, window=window, fallback=fallback, keep=keep)
    except OSError as exc:
        keep.release()
        raise InvalidInputError(f"cannot write {path}: {exc.strerror or exc}") from exc
    except BaseException:
        keep.release()
        raise
    return job, keep


def write_job(
    job: Job,
    path: Path,
    *,
    on_piece: Callable[[int], None] | None = None,
    keep: SaveState | None = None,
) -> bool:
    """Stream ``job``'s pieces into ``path`` (atomically); False if it was cancelled.

    A ``.wav`` path gets a WAV header around the PCM; the rest is written as it comes.
    With ``keep`` (from :func:`start_save`), the output grows in the save's folder and
    what was written survives a crash or a stop, for the next run of the same save.
    """
    path = path.expanduser()
    if keep is not None:
        try:
            return _write_kept(job, path, keep, on_piece)
        finally:
            keep.release()
    wav = path.suffix.lower() == ".wav"
    _remove_orphans(path)
    try:
        fd, tmp_name = tempfile.mkstemp(
            prefix=f".{path.name}.{os.getpid()}-", suffix=".part", dir=path.parent or "."
        )
        # mkstemp makes the file 0600; the result gets the user's umask like any file.
        Path(tmp_name).chmod(0o666 & ~_umask())
    except OSError as exc:
        job.cancel()
        raise InvalidInputError(f"cannot write {path}: {exc.strerror or exc}") from exc
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as f:
            if wav:
                f.write(b"\0" * 44)
            size = 0
            rate = job.voicing.sample_rate
            for piece in job:
                data = _piece_bytes(job, piece)
                f.write(data)
                size += len(data)
                if on_piece is not None:
                    on_piece(piece.index)
            if wav:
                f.seek(0)
                f.write(wav_header(rate, size))
        tmp.replace(path)
        return True
    except CancelledError:
        tmp.unlink(missing_ok=True)
        return False
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise InvalidInputError(f"cannot write {path}: {exc.strerror or exc}") from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _piece_bytes(job: Job, piece: Piece) -> bytes:
    """A piece as it goes into the file: PCM at the asked rate (one header serves every
    piece), an MP3 without the ID3 tag of any piece but the first."""
    data = piece.audio.data
    if job.format == "pcm":
        return convert_pcm(
            data, channels=1, from_rate=piece.audio.sample_rate, to_rate=job.voicing.sample_rate
        )
    return data if piece.index == 0 else _strip_id3(data)


def _write_kept(
    job: Job, path: Path, keep: SaveState, on_piece: Callable[[int], None] | None
) -> bool:
    wav = path.suffix.lower() == ".wav"
    try:
        with keep.open_part(44 if wav else 0) as f:
            for piece in job:
                data = _piece_bytes(job, piece)
                f.write(data)
                keep.appended_piece(f, piece.index, data)
                if on_piece is not None:
                    on_piece(piece.index)
            if wav:
                f.seek(0)
                f.write(wav_header(job.voicing.sample_rate, keep.size))
        keep.finish()
        return True
    except CancelledError:
        return False  # what was written stays, for the next run of this save
    except OSError as exc:
        job.cancel()
        raise InvalidInputError(f"cannot write {path}: {exc.strerror or exc}") from exc


def _remove_orphans(path: Path) -> None:
    """Remove the partial files of earlier writes of ``path`` whose process has died
    (killed before it could clean up), so that none is left behind for good."""
    pattern = re.compile(rf"\.{re.escape(path.name)}\.(\d+)-[^/\\]+\.part")
    try:
        candidates = list(path.parent.glob(f".{glob.escape(path.name)}.*.part"))
    except OSError:
        return
    for part in candidates:
        m = pattern.fullmatch(part.name)
        if m is not None and not _alive(int(m.group(1)), part):
            with contextlib.suppress(OSError):
                part.unlink()
                logger.info("removed %s, left by a write that was killed", part.name)


def _alive(pid: int, part: Path) -> bool:
    """Whether the write that made ``part`` may still be going on."""
    if pid == os.getpid():
        return True
    if sys.platform == "win32":  # pragma: no cover - no signal 0 there: a day unwritten
        try:
            return time.time() - part.stat().st_mtime < 86400
        except OSError:
            return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, owned by someone else
    return True


def _strip_id3(mp3: bytes) -> bytes:
    """Drop a leading ID3v2 tag: the joined file keeps only the first piece's tag."""
    if len(mp3) >= 10 and mp3[:3] == b"ID3":
        b = mp3[6:10]
        size = (b[0] << 21) | (b[1] << 14) | (b[2] << 7) | b[3]
        footer = 10 if mp3[5] & 0x10 else 0
        return mp3[10 + size + footer :]
    return mp3


def speak(
    text: str,
    *,
    voice: str | None = None,
    rate: float | None = None,
    volume: float | None = None,
    pitch: float | None = None,
) -> None:
    """Speak ``text`` and return when it has been spoken; raise :class:`KuhuError` on failure.

    Units are pyttsx3's: ``rate`` in words per minute (200 is normal), ``volume``
    0.0–1.0, ``pitch`` a multiplier; ``voice`` an id or a name such as ``"小婉"``.
    """
    props = Properties()
    for name, value in (("voice", voice), ("rate", rate), ("volume", volume), ("pitch", pitch)):
        if value is not None:
            props = props.with_value(name, value)
    settings = speech_settings()
    player = make_player(settings.audio)
    try:
        # The device first: without one, nothing is sent (or billed).
        player.prepare(props.voicing().sample_rate)
        with Synthesizer.from_settings(settings) as synth:
            job = synth.start(text, props.voicing(), fallback=True)
            try:
                play_job(job, player)
            finally:
                job.cancel()
    finally:
        player.close()
