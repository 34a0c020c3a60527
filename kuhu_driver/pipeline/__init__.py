"""From text to sound or file: chunking (pure), synthesis and prefetch, playing, saving
and batches, the store (cache and resumable saves on one file format), subtitles, the
:class:`Session` under ``speak()``, ``stream()`` and ``save()``, and the setup check.
The asyncio faces are in ``pipeline._aio``, imported only by those who use them
(asyncio is not cheap to import).

Layer: uses ``api``, ``audio`` and the leaves; used by ``driver`` and ``cli``.
"""

from __future__ import annotations

from ._cache import CACHE_FOLDER, AudioCache
from ._chunk import (
    chunk_spans,
    chunk_text,
    reader_pieces,
    speech_pieces,
    word_spans,
)
from ._cues import (
    Cue,
    cue_layout,
    render_subtitles,
    subtitle_format,
    timed_cues,
    write_subtitles,
)
from ._job import Job, Piece, start_job
from ._keeper import WARM_DELAY
from ._markup import Script
from ._markup import parse as parse_markup
from ._plan import Estimate, compile_patterns, estimate, frame_clock
from ._play import HANDOVER_SECONDS, play_job
from ._properties import PROPERTY_NAMES, Properties, VoiceArgs, voicing_of
from ._resume import SUFFIX, SaveState, save_id
from ._save import (
    RESUMABLE_BILLED,
    check_destination,
    save_format,
    save_text,
    start_save,
    write_job,
)
from ._session import KEEP_DEVICE_FOR, Session, default_session
from ._speak import save, speak, stream
from ._stream import Speech
from ._synth import Synthesizer

__all__ = [
    "CACHE_FOLDER",
    "HANDOVER_SECONDS",
    "KEEP_DEVICE_FOR",
    "PROPERTY_NAMES",
    "RESUMABLE_BILLED",
    "SUFFIX",
    "WARM_DELAY",
    "AudioCache",
    "Cue",
    "Estimate",
    "Job",
    "Piece",
    "Properties",
    "SaveState",
    "Script",
    "Session",
    "Speech",
    "Synthesizer",
    "VoiceArgs",
    "check_destination",
    "chunk_spans",
    "chunk_text",
    "compile_patterns",
    "cue_layout",
    "default_session",
    "estimate",
    "frame_clock",
    "parse_markup",
    "play_job",
    "reader_pieces",
    "render_subtitles",
    "save",
    "save_format",
    "save_id",
    "save_text",
    "speak",
    "speech_pieces",
    "start_job",
    "start_save",
    "stream",
    "subtitle_format",
    "timed_cues",
    "voicing_of",
    "word_spans",
    "write_job",
    "write_subtitles",
]
