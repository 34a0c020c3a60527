"""One message spoken for Speech Dispatcher: its text read (SSML, a character, a key),
fetched by the shared pipeline, and sent to the server as audio events with its index
marks where their samples fall, then exactly one of END, STOP or PAUSE.

The server reads audio only ~1.5 s ahead of what is heard, so sending is paced by it,
and a mark sent between two chunks is reported when the listener reaches it. Requests
end at the server's own ``__spd_`` marks (after each sentence): PAUSE stops at the next
one, and the rest, sent again as a new message, is the same requests, which the pieces
set aside (and the cache) give back without buying them again.
"""

from __future__ import annotations

import html
import logging
import re
import threading
import unicodedata
from collections import deque
from collections.abc import Callable

from .._cancel import CancelToken
from .._text import clean_text
from ..audio import convert_pcm
from ..errors import InvalidInputError, KuhuError, MarkupError, StoppedError
from ..pipeline import (
    Job,
    Piece,
    Script,
    Synthesizer,
    frame_clock,
    parse_markup,
    reader_pieces,
    start_job,
)
from ._settings import SAMPLE_RATE, SpeechdSettings, key_words
from ._wire import Wire, audio_events

logger = logging.getLogger(__name__)

#: Seconds of audio fetched ahead of what is sent, beyond the next piece: a screen
#: reader interrupts constantly, and what is fetched ahead is paid for.
AHEAD_SECONDS = 10.0
#: Combining marks kept on one character: a screen reader reads whatever is on screen,
#: and a character carrying thousands (Zalgo text) must not refuse the whole message.
MARKS_KEPT = 4
SPD_MARK = "__spd_"


def trim_marks(text: str) -> str:
    """``text`` with at most ``MARKS_KEPT`` combining marks on each character."""
    out: list[str] = []
    run = 0
    for ch in text:
        if unicodedata.combining(ch) or unicodedata.category(ch) in ("Mn", "Me"):
            run += 1
            if run > MARKS_KEPT:
                continue
        else:
            run = 0
        out.append(ch)
    return "".join(out)


def message_script(kind: str, data: str, settings: SpeechdSettings) -> Script:
    """What a message says: SPEAK's SSML (spelt with ``spelling_mode``), a CHAR's
    character, a KEY's name in words; requests cut at the server's ``__spd_`` marks."""
    if kind == "CHAR" and data.isspace():
        data = key_words("space", settings.language)
    elif kind == "KEY":
        data = key_words(data, settings.language)
    try:
        data = clean_text(data)  # control characters made spaces; nothing to say: refused
    except ValueError as exc:
        raise InvalidInputError(str(exc)) from None
    if kind == "SPEAK":
        script = _ssml(trim_marks(data))
        if settings.spelling:
            spelt = html.escape(script.text)
            script = parse_markup(f'<say-as interpret-as="characters">{spelt}</say-as>', "ssml")
    else:
        script = parse_markup(trim_marks(data), "off")
    spd = [pos for pos, name, _ in script.marks if name.startswith(SPD_MARK)]
    if spd:
        script.cuts = sorted({*script.cuts, *spd})
    return script


def _ssml(text: str) -> Script:
    try:
        return parse_markup(text, "ssml")
    except MarkupError as exc:  # never refuse a screen reader's message: read its words
        logger.warning("%s; reading its text without the markup", exc)
        words = html.unescape(re.sub(r"<[^>]*>", " ", text))
        return parse_markup(words, "off")


class Message:
    """One message under way: its thread, and how STOP and PAUSE reach it."""

    def __init__(self, kind: str, data: str, settings: SpeechdSettings) -> None:
        self.kind = kind
        self.data = data
        self.settings = settings
        self.stop = CancelToken()
        self.pause = threading.Event()
        self.done = threading.Event()
        self.job: Job | None = None


class Speaker:
    """Speaks messages one at a time, on a thread of its own, to the wire."""

    def __init__(self, wire: Wire, synth: Callable[[], Synthesizer]) -> None:
        self.wire = wire
        self._synth = synth
        self.current: Message | None = None

    def begin(self, msg: Message) -> None:
        previous = self.current
        if previous is not None and not previous.done.is_set():
            previous.stop.set()  # the server sent another without a STOP: end the old
            previous.done.wait(5.0)
        self.current = msg
        threading.Thread(
            target=self._run, args=(msg,), name="kuhu-speechd-say", daemon=True
        ).start()

    def stop(self) -> None:
        msg = self.current
        if msg is not None:
            msg.stop.set()
            if msg.job is not None:
                msg.job.cancel()

    def pause(self) -> None:
        msg = self.current
        if msg is not None:
            msg.pause.set()

    def _run(self, msg: Message) -> None:
        ending = "702 END"
        try:
            self.wire.send(b"701 BEGIN\n")
            if msg.kind == "SOUND_ICON":
                self.wire.event(706, "ICON", msg.data)
            else:
                ending = self._speak(msg)
        except StoppedError:
            ending = "703 STOP"
        except Exception as exc:  # never leave the server waiting: log, then end
            logger.error("message not spoken: %s", exc)
        finally:
            self.wire.send(f"{ending}\n".encode())
            msg.done.set()

    def _speak(self, msg: Message) -> str:
        try:
            script = message_script(msg.kind, msg.data, msg.settings)
        except InvalidInputError as exc:
            logger.info("nothing to speak: %s", exc)
            return "702 END"
        synth = self._synth()
        voicing = msg.settings.voicing()
        try:
            job = start_job(
                synth,
                script,
                voicing,
                fallback=True,
                ahead_seconds=AHEAD_SECONDS,
                split=reader_pieces,
            )
        except InvalidInputError as exc:  # too long, or nothing speakable
            logger.warning("message skipped: %s", exc)
            return "702 END"
        msg.job = job
        if msg.stop.is_set():
            job.cancel()
        sent: deque[Piece] = deque(maxlen=2)  # what the server may play again on resume
        try:
            for piece in job:
                sent.append(piece)
                audio = piece.audio
                pcm = convert_pcm(
                    audio.data, channels=1, from_rate=audio.sample_rate, to_rate=SAMPLE_RATE
                )
                if self._send_piece(msg, job, piece.index, pcm):
                    job.set_aside(*sent)
                    return "704 PAUSE"
        except KuhuError as exc:
            if msg.stop.is_set():
                raise StoppedError("stopped") from None
            logger.error("%s", exc)
        finally:
            if msg.stop.is_set():
                job.cancel()
        if msg.stop.is_set():
            return "703 STOP"
        return "702 END"

    def _send_piece(self, msg: Message, job: Job, index: int, pcm: bytes) -> bool:
        """Send one piece's audio, its marks between the chunks where their samples
        fall; True if a PAUSE was asked for and a ``__spd_`` mark was reached."""
        a, b = job.spans[index]
        frame_of = frame_clock(job.text[a:b], len(pcm) // 2)
        at = 0
        for offset, name in job.plan.marks.get(index, ()):
            frame = frame_of(offset)
            self._audio(msg, pcm[2 * at : 2 * frame])
            at = max(at, frame)
            self.wire.event(700, "INDEX MARK", name)
            if name.startswith(SPD_MARK) and msg.pause.is_set():
                return True
        self._audio(msg, pcm[2 * at :])
        return False

    def _audio(self, msg: Message, pcm: bytes) -> None:
        """Audio events, a chunk at a time: a STOP ends them at the next chunk (the
        server, which stopped reading ahead, takes them as fast as it plays)."""
        for event in audio_events(pcm, SAMPLE_RATE):
            if msg.stop.is_set():
                raise StoppedError("stopped")
            self.wire.send(event)
        if msg.stop.is_set():
            raise StoppedError("stopped")
