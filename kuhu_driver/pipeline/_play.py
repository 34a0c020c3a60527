"""Playing a job: each piece queued on the player's one stream as soon as it has arrived,
with its word marks at their frame offsets."""

from __future__ import annotations

import functools
from collections.abc import Callable

from ..audio import Player, Segment
from ..errors import KuhuError, StoppedError
from ._chunk import word_spans
from ._job import Job, Piece
from ._plan import frame_clock

#: How much of an utterance is left to play when the next one is handed to the player.
HANDOVER_SECONDS = 0.06


def play_job(
    job: Job,
    player: Player,
    *,
    on_start: Callable[[], None] | None = None,
    on_word: Callable[[int, int], None] | None = None,
    before_play: Callable[[], None] | None = None,
    on_piece: Callable[[int], None] | None = None,
    more_follows: Callable[[], bool] | None = None,
    on_mark: Callable[[str], None] | None = None,
) -> bool:
    """Play ``job``'s pieces in order as each arrives; True if all of it played.

    Each piece is queued on the player's one stream as soon as it has arrived and the
    piece before it is playing, so pieces follow each other sample for sample.
    ``on_start`` runs before the first sound; ``on_word(location, length)`` runs (on the
    player's thread) as the device takes each word's first sample, ``on_mark(name)`` as
    it takes the sample at a mark of the markup. After the last piece
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
            seg = _segment(job, piece, on_word, on_mark)
            player.enqueue(seg)
            if playing is not None:
                if not player.wait(playing[0], job.cancel_event, drain=False):
                    return False
                if on_piece is not None:
                    on_piece(playing[1])
            playing = (seg, piece.index)
    except StoppedError:
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


def _segment(
    job: Job,
    piece: Piece,
    on_word: Callable[[int, int], None] | None,
    on_mark: Callable[[str], None] | None,
) -> Segment:
    """The piece as a player segment, with its words and marks at their frame offsets
    (a mark before the word that starts where it stands)."""
    pcm, rate = piece.audio.data, piece.audio.sample_rate
    frames = len(pcm) // 2
    # Words of this piece only: scanning the whole text per piece is quadratic.
    text = job.text[piece.start : piece.end]
    frame = frame_clock(text, frames)

    events: list[tuple[int, int, Callable[[], None]]] = []
    if on_word is not None:
        for loc, n in word_spans(text):
            events.append((frame(loc), 1, functools.partial(on_word, piece.start + loc, n)))
    if on_mark is not None:
        for loc, name in job.plan.marks.get(piece.index, ()):
            events.append((frame(loc), 0, functools.partial(on_mark, name)))
    events.sort(key=lambda e: e[:2])
    calls = [call for _, _, call in events]

    def fire(i: int) -> None:
        calls[i]()

    return Segment(pcm, rate, [f for f, _, _ in events], fire if calls else None)
