"""Saving a job to a file: the format follows the extension, the destination is checked
before anything is billed, the file appears whole (atomically) or not at all, and a
long save keeps its pieces so that a crash or a stop is resumed by the next run."""

from __future__ import annotations

import contextlib
import logging
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import IO

from .._files import (
    KeptBeside,
    can_create_beside,
    install,
    temp_beside,
    temp_tag,
    writer_alive,
)
from .._memory import give_back_free_memory
from .._model import SAVE_FORMATS, Voicing
from .._text import clean_text
from ..audio import convert_pcm, strip_id3, wav_header
from ..errors import InvalidInputError, StoppedError
from ._cues import piece_seconds, timed_cues, write_subtitles
from ._job import Job, Piece, start_job
from ._plan import check_billed, script_of
from ._resume import SaveState, save_id
from ._synth import Synthesizer

logger = logging.getLogger(__name__)


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
    # Tried for real: os.access ignores Windows ACLs and macOS privacy-protected folders.
    refused = can_create_beside(target)
    if refused is not None:
        raise InvalidInputError(
            f"cannot write {target}: the folder {folder} does not take new files "
            f"({refused.strerror or refused})"
        )
    return target


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
    cues: bool = False,
    markup: str = "auto",
) -> tuple[Job, SaveState | None]:
    """Begin a save to ``path``: a long one resumes from the pieces an earlier run of the
    same save left. Pass both results to :func:`write_job`. With ``cues``, one piece per
    subtitle cue (see ``_cues``); ``markup`` as :func:`start_job` reads it."""
    fmt = save_format(path)
    script = script_of(text, markup)
    # Checked before a resume folder is made for it.
    if check_billed(script.text, synth.max_billed) <= RESUMABLE_BILLED:
        job = start_job(
            synth, script, voicing, format=fmt, window=window, fallback=fallback, cues=cues
        )
        return job, None
    pieces = f"{fmt}+cues" if cues else fmt  # another split: other pieces to resume
    source = script.text
    if script.markup:  # its markup read: the source, markup and all, is what the save is
        pieces += "+markup"
        source = clean_text(text)
    keep = SaveState(path.expanduser(), save_id(str(synth.client.url), voicing, pieces, source))
    try:
        keep.open()
        job = start_job(
            synth,
            script,
            voicing,
            format=fmt,
            window=window,
            fallback=fallback,
            keep=keep,
            cues=cues,
        )
    except OSError as exc:
        keep.release()
        raise InvalidInputError(f"cannot write {path}: {exc.strerror or exc}") from exc
    except BaseException:
        keep.release()
        raise
    return job, keep


def save_text(
    synth: Synthesizer,
    text: str,
    voicing: Voicing,
    path: Path,
    *,
    subtitles: Path | None = None,
    window: int = 3,
    fallback: bool = False,
    job: Job | None = None,
    on_job: Callable[[Job], Callable[[int], None] | None] | None = None,
    markup: str = "auto",
) -> bool:
    """The one save flow, for the driver, :class:`Session` and ``kuhu-say``: begin (or
    resume) the save of ``text`` to ``path`` (checked already: see
    :func:`check_destination`), write it, then its ``subtitles``; False if it was
    cancelled. ``job``: one begun already (a short text fetched ahead), used as is.
    ``on_job(job)`` hears of the job before anything is written, and may return a
    callback told of each piece once it is in the file."""
    keep = None
    if job is None:
        job, keep = start_save(
            synth,
            text,
            voicing,
            path,
            window=window,
            fallback=fallback,
            cues=subtitles is not None,
            markup=markup,
        )
    on_piece = on_job(job) if on_job is not None else None
    seconds: list[float] | None = [] if subtitles is not None else None
    if not write_job(job, path, keep=keep, on_piece=on_piece, seconds=seconds):
        return False
    if subtitles is not None and seconds is not None:
        write_subtitles(subtitles, timed_cues(job.plan.cues, seconds))
    return True


def write_job(
    job: Job,
    path: Path,
    *,
    on_piece: Callable[[int], None] | None = None,
    keep: SaveState | None = None,
    seconds: list[float] | None = None,
) -> bool:
    """Stream ``job``'s pieces into ``path`` (atomically); False if it was cancelled.

    A ``.wav`` path gets a WAV header around the PCM; the rest is written as it comes.
    With ``keep`` (from :func:`start_save`), the output grows in the save's folder and
    what was written survives a crash or a stop, for the next run of the same save.
    ``seconds`` gets how long each piece plays in the file, in order (for subtitles).
    """
    path = path.expanduser()
    if keep is not None:
        if seconds is not None:  # pieces an earlier run of this save wrote
            seconds.extend(
                piece_seconds(data, job.format, job.voicing.sample_rate)
                for data in keep.appended_pieces()
            )
        try:
            return _write_kept(job, path, keep, on_piece, seconds)
        finally:
            keep.release()
    wav = path.suffix.lower() == ".wav"
    _remove_orphans(path)
    try:
        fd, tmp = temp_beside(path)
    except OSError as exc:
        job.cancel()
        raise InvalidInputError(f"cannot write {path}: {exc.strerror or exc}") from exc
    try:
        with os.fdopen(fd, "wb") as f:
            if wav:
                f.write(b"\0" * 44)
            size = _write_pieces(job, f, on_piece, seconds)
            if wav:
                f.seek(0)
                f.write(wav_header(job.voicing.sample_rate, size))
        install(tmp, path)
        return True
    except KeptBeside as exc:
        raise in_use(path, exc) from None
    except StoppedError:
        tmp.unlink(missing_ok=True)
        return False
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise InvalidInputError(f"cannot write {path}: {exc.strerror or exc}") from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _write_pieces(
    job: Job,
    f: IO[bytes],
    on_piece: Callable[[int], None] | None,
    seconds: list[float] | None,
    keep: SaveState | None = None,
) -> int:
    """Append each of ``job``'s pieces to ``f`` as it arrives (and record it in ``keep``);
    the bytes written. Each piece's memory is given back before the next one."""
    size = 0
    for piece in job:
        data = _piece_bytes(job, piece)
        if seconds is not None:
            seconds.append(piece_seconds(data, job.format, job.voicing.sample_rate))
        f.write(data)
        if keep is not None:
            keep.appended_piece(f, piece.index, data)
        size += len(data)
        index = piece.index
        del data, piece
        give_back_free_memory()
        if on_piece is not None:
            on_piece(index)
    return size


def in_use(path: Path, exc: KeptBeside) -> InvalidInputError:
    """The error for an output another program holds: the paid audio is kept beside it."""
    return InvalidInputError(
        f"cannot replace {path}: another program has it open; the new audio is in {exc.kept}"
    )


def _piece_bytes(job: Job, piece: Piece) -> bytes:
    """A piece as it goes into the file: PCM at the asked rate (one header serves every
    piece), an MP3 without the ID3 tag of any piece but the first."""
    data = piece.audio.data
    if job.format == "pcm":
        return convert_pcm(
            data, channels=1, from_rate=piece.audio.sample_rate, to_rate=job.voicing.sample_rate
        )
    return data if piece.index == 0 else strip_id3(data)


def _write_kept(
    job: Job,
    path: Path,
    keep: SaveState,
    on_piece: Callable[[int], None] | None,
    seconds: list[float] | None,
) -> bool:
    wav = path.suffix.lower() == ".wav"
    try:
        with keep.open_part(44 if wav else 0) as f:
            _write_pieces(job, f, on_piece, seconds, keep)
            if wav:
                f.seek(0)
                f.write(wav_header(job.voicing.sample_rate, keep.size))
        keep.finish()
        return True
    except KeptBeside as exc:
        raise in_use(path, exc) from None
    except StoppedError:
        return False  # what was written stays, for the next run of this save
    except OSError as exc:
        job.cancel()
        raise InvalidInputError(f"cannot write {path}: {exc.strerror or exc}") from exc


def _remove_orphans(path: Path) -> None:
    """Remove the partial files of earlier writes of ``path`` whose process has died
    (killed before it could clean up), so that none is left behind for good."""
    tag = temp_tag(path)
    pattern = re.compile(rf"\.{re.escape(tag)}\.(\d+)-[^/\\]+\.part")
    try:
        import glob

        candidates = list(path.parent.glob(f".{glob.escape(tag)}.*.part"))
    except OSError:
        return
    for part in candidates:
        m = pattern.fullmatch(part.name)
        if m is not None and not writer_alive(int(m.group(1)), part):
            with contextlib.suppress(OSError):
                part.unlink()
                logger.info("removed %s, left by a write that was killed", part.name)
