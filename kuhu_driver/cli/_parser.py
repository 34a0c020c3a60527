"""kuhu-say's options: one parser, every option with its range and its help."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

from .. import __version__
from .._model import SAMPLE_RATES
from ..api import DEFAULT_VOICE

EMULATOR_NOTICE = (
    "note: --emulator: this is the built-in emulator's test signal (tones), not a voice"
)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


def _range(low: float, high: float, kind: Callable[[str], float] = float) -> Callable[[str], float]:
    def parse(raw: str) -> float:
        try:
            value = kind(raw)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{raw!r} is not a number") from None
        if not math.isfinite(value) or not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{raw} is outside {low:g}–{high:g}")
        return value

    return parse


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="kuhu-say",
        description="Speak text with the kuhuyun cloud voices (声音合成V2), or save it as audio. "
        "Needs KUHU_API_KEY (and KUHU_API_SECRET if signing is on), except with "
        "--emulator, --dry-run and --list-voices.",
    )
    _add_speech_options(p)
    _add_other_modes(p)
    p.add_argument("-v", "--verbose", action="store_true", help="log what happens to stderr")
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return p


def _add_speech_options(p: argparse.ArgumentParser) -> None:
    """What to say, how, and where to."""
    p.add_argument("text", nargs="?", help="text to speak (or use -f)")
    p.add_argument("-f", "--file", help="read the text from FILE ('-' for standard input)")
    p.add_argument(
        "-o",
        "--out",
        help="write audio to PATH instead of playing it; the format "
        "follows the extension: .wav, .mp3, .pcm",
    )
    p.add_argument(
        "--subtitles",
        metavar="PATH",
        help="with --out: also write subtitles (.srt or .vtt), each cue timed to the "
        "millisecond in the audio; one request per cue",
    )
    p.add_argument(
        "--voice",
        default=DEFAULT_VOICE.name,
        help=f"voice name or id (default {DEFAULT_VOICE.name}); see --list-voices",
    )
    # The API's own units, checked here so that nothing invalid is sent.
    for flag, low, high, kind, default, what in (
        ("--rate", 0.5, 2, float, 1.0, "speaking speed, the API's multiplier"),
        ("--volume", 0, 100, int, 50, "volume, the API's"),
        ("--pitch", 0.5, 2, float, 1.0, "pitch, the API's multiplier"),
    ):
        p.add_argument(
            flag,
            type=_range(low, high, kind),
            default=default,
            help=f"{what} {low:g}–{high:g} (default {default})",
        )
    p.add_argument(
        "--sample-rate",
        type=int,
        choices=SAMPLE_RATES,
        default=22050,
        metavar="HZ",
        help=f"sample rate: {', '.join(map(str, SAMPLE_RATES))} (default 22050)",
    )
    p.add_argument(
        "--markup",
        choices=("auto", "ssml", "off"),
        default="auto",
        help="markup in the text (SSML, SAPI's XML, macOS's [[slnc N]]): obeyed when "
        "the text has some (auto, the default), always read as markup (ssml), or sent "
        "as it is (off). Breaks are silence made here, never billed",
    )
    p.add_argument(
        "--no-fallback",
        action="store_true",
        help="when the cloud cannot answer, fail instead of speaking with the platform's own "
        "voice (the default; files never fall back unless KUHU_FALLBACK=always)",
    )


def _add_other_modes(p: argparse.ArgumentParser) -> None:
    """Listing voices, costing, batches, the emulator and the setup check."""
    p.add_argument("--list-voices", action="store_true", help="show the 34 system voices")
    p.add_argument("--json", action="store_true", help="with --list-voices: print JSON")
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="show billed characters, requests and cost in yuan; needs no key and sends nothing",
    )
    p.add_argument(
        "--emulator",
        action="store_true",
        help="use the built-in emulator (no key needed): its sound is a test signal, not a voice",
    )
    p.add_argument(
        "--batch",
        metavar="FILE",
        help="one audio file per non-empty line of FILE ('-' for standard input); needs --out-dir",
    )
    p.add_argument(
        "--out-dir",
        help="with --batch: folder for NNNN.FORMAT files (NNNN is the "
        "line number); files already there are skipped, so a batch can resume",
    )
    p.add_argument(
        "--format",
        choices=("wav", "mp3", "pcm"),
        default="wav",
        help="with --batch: audio format (default wav)",
    )
    for flags, help_text in (
        (
            ("--check",),
            "check the setup: settings, the audio device, and one 1-character request "
            "(0.0002 yuan, asked first); exit 0 only if all is well",
        ),
        (("--no-request",), "with --check: everything but the request"),
        (("-y", "--yes"), "with --check: send the request without asking"),
        (
            ("--set-key",),
            "store the API key and secret once (asked, never echoed) in the OS keyring, or "
            "else in a file only you can read; used when KUHU_API_KEY is not set",
        ),
        (("--forget-key",), "remove the stored key"),
        (
            ("--install-speechd",),
            "install the Speech Dispatcher module for this user (no root): then "
            "spd-say -o kuhu, or pick kuhu in Orca's preferences",
        ),
        (("--uninstall-speechd",), "remove the Speech Dispatcher module"),
    ):
        p.add_argument(*flags, action="store_true", help=help_text)
