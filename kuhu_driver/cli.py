"""kuhu-say: speak text, or write it to audio files, with the kuhuyun voices.

Thin by design: parse, call the library, turn a KuhuError into one line on stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import math
import os
import sys
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from . import __version__
from .client import SAMPLE_RATES
from .config import Settings, resolve_settings, speech_settings
from .errors import KuhuError
from .properties import Voicing
from .speech import check_destination, save_format
from .text import estimate
from .voices import DEFAULT_VOICE, VOICES, resolve_voice_id

__all__ = ["emulator_main", "main"]

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
    p.add_argument("text", nargs="?", help="text to speak (or use -f)")
    p.add_argument("-f", "--file", help="read the text from FILE ('-' for standard input)")
    p.add_argument(
        "-o",
        "--out",
        help="write audio to PATH instead of playing it; the format "
        "follows the extension: .wav, .mp3, .pcm",
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
    p.add_argument(
        "--check",
        action="store_true",
        help="check the setup: settings, the audio device, and one 1-character request "
        "(0.0002 yuan, asked first); exit 0 only if all is well",
    )
    p.add_argument(
        "--no-request", action="store_true", help="with --check: everything but the request"
    )
    p.add_argument(
        "-y", "--yes", action="store_true", help="with --check: send the request without asking"
    )
    p.add_argument(
        "--no-fallback",
        action="store_true",
        help="when the cloud cannot answer, fail instead of speaking with the platform's own "
        "voice (the default; files never fall back unless KUHU_FALLBACK=always)",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="log what happens to stderr")
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return p


def _width(s: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in s)


def _pad(s: str, width: int) -> str:
    return s + " " * (width - _width(s))


def list_voices(out: TextIO, *, as_json: bool) -> None:
    if as_json:
        rows = [
            {
                "id": v.id,
                "name": v.name,
                "scenes": list(v.scenes),
                "languages": list(v.languages),
                "gender": v.gender,
                "age": v.age,
            }
            for v in VOICES
        ]
        json.dump(rows, out, ensure_ascii=False, indent=2)
        out.write("\n")
        return
    table = [("id", "name", "scenes", "languages", "gender")]
    for v in VOICES:
        gender = " ".join(x for x in (v.gender, v.age) if x) or "-"
        table.append((v.id, v.name, "、".join(v.scenes), ",".join(v.languages), gender))
    widths = [max(_width(row[i]) for row in table) for i in range(5)]
    for row in table:
        out.write("  ".join(_pad(cell, w) for cell, w in zip(row, widths, strict=True)).rstrip())
        out.write("\n")


class _Progress:
    """A progress bar on stderr, only when stderr is a terminal."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.enabled = sys.stderr.isatty()

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled or total <= 0:
            return
        filled = int(30 * done / total)
        sys.stderr.write(f"\r{self.label} [{'#' * filled}{'.' * (30 - filled)}] {done}/{total}")
        if done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()


def _piece_progress(label: str, pieces: int) -> Callable[[int], None] | None:
    """Progress for long input (more than one piece), on a terminal only."""
    if pieces < 2:
        return None
    bar = _Progress(label)
    bar(0, pieces)
    return lambda i: bar(i + 1, pieces)


def _read(path: str) -> str:
    if path == "-":
        return sys.stdin.read()
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise KuhuError(f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise KuhuError(f"cannot read {path}: it is not UTF-8 text") from None


@contextmanager
def _settings(args: argparse.Namespace) -> Iterator[Settings]:
    fallback = "off" if args.no_fallback else None
    if not args.emulator:
        # Speaking needs no key (the local voice speaks); files and batches do.
        resolve = resolve_settings if (args.out or args.batch) else speech_settings
        yield resolve(fallback=fallback)
        return
    from .testing import KuhuEmulator

    with KuhuEmulator() as emu:
        print(EMULATOR_NOTICE, file=sys.stderr)
        yield resolve_settings(
            api_key=emu.api_key, api_url=emu.url, cache=False, api_secret="", fallback=fallback
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.verbose:
        logging.basicConfig(level=logging.DEBUG, format="%(levelname)s %(name)s: %(message)s")
    try:
        return _run(parser, args)
    except KuhuError as exc:
        print(f"kuhu-say: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("kuhu-say: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (| head): stop quietly, as other commands do.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


def _run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    if args.list_voices:
        list_voices(sys.stdout, as_json=args.json)
        return 0
    if args.check:
        if args.text or args.file or args.batch or args.out:
            parser.error("--check takes no text, file or output")
        return _check(args)
    if args.no_request or args.yes:
        parser.error("--no-request and --yes go with --check")
    if args.batch and not args.out_dir:
        parser.error("--batch needs --out-dir")
    if args.batch and (args.text or args.file or args.out):
        parser.error("--batch takes its texts from FILE: give no TEXT, -f or --out")
    if not args.batch and bool(args.text) == bool(args.file):
        parser.error("give the text to speak, or -f FILE (but not both)")
    try:
        voice = resolve_voice_id(args.voice)
    except ValueError as exc:
        parser.error(str(exc))
    voicing = Voicing(voice, args.volume, args.rate, args.pitch, args.sample_rate)

    if args.batch:
        lines = _read(args.batch).splitlines()
        items = [(i, line.strip()) for i, line in enumerate(lines, 1) if line.strip()]
        if args.dry_run:
            return _dry_run([text for _, text in items])
        return _batch(args, items, voicing)

    text = args.text if args.text else _read(args.file)
    if not text.strip():
        parser.error("the text is empty: there is nothing to speak")
    if args.dry_run:
        return _dry_run([text])
    if args.out:
        try:
            save_format(args.out)
        except KuhuError as exc:
            parser.error(f"--out: {exc}")
        check_destination(args.out)  # before settings and requests: costs nothing
    return _speak(args, text, voicing)


def _check(args: argparse.Namespace) -> int:
    from .check import check_setup

    def ask(question: str) -> bool:
        if not (sys.stdin.isatty() and sys.stderr.isatty()):
            print(f"kuhu-say: {question} No terminal to ask: add --yes", file=sys.stderr)
            return False
        sys.stderr.write(f"{question} [y/N] ")
        sys.stderr.flush()
        return sys.stdin.readline().strip().lower() in ("y", "yes")

    env: dict[str, str] = dict(os.environ)
    with contextlib.ExitStack() as stack:
        if args.emulator:
            from .testing import KuhuEmulator

            emu = stack.enter_context(KuhuEmulator())
            print(EMULATOR_NOTICE, file=sys.stderr)
            env.update(emu.env())
            env.pop("KUHU_API_SECRET", None)
        report = check_setup(
            request=not args.no_request,
            confirm=None if args.yes else ask,
            env=env,
            sample_rate=args.sample_rate,
        )
    for line in report.lines():
        print(line)
    return 0 if report.ok else 1


def _dry_run(texts: list[str]) -> int:
    billed = requests = 0
    for t in texts:
        e = estimate(t)
        billed += e.billed_chars
        requests += e.requests
    yuan = billed / 10_000
    print(f"billed characters: {billed}")
    print(f"requests: {requests}")
    print(f"cost: {yuan:.4f} yuan (1 yuan per 10,000 billed characters; nothing was sent)")
    return 0


def _speak(args: argparse.Namespace, text: str, voicing: Voicing) -> int:
    from .playback import make_player
    from .speech import Synthesizer, play_job, start_save, write_job

    with _settings(args) as settings, Synthesizer.from_settings(settings) as synth:
        if args.out:
            out = Path(args.out).expanduser()
            job, keep = start_save(
                synth, text, voicing, out, window=3, fallback=settings.fallback == "always"
            )
            try:
                write_job(job, out, on_piece=_piece_progress("writing", len(job.spans)), keep=keep)
            finally:
                _cost_summary(
                    synth.client.billed_chars_sent, synth.billed_from_cache, job.billed_reused
                )
            print(f"wrote {out}", file=sys.stderr)
            return 0
        player = make_player(settings.audio)
        try:
            # The device first: without one, nothing is sent (or billed).
            player.prepare(voicing.sample_rate)
            job = synth.start(text, voicing, fallback=True)
            job.on_fallback = lambda notice: print(f"kuhu-say: note: {notice}", file=sys.stderr)
            try:
                played = play_job(job, player, on_piece=_piece_progress("speaking", len(job.spans)))
            finally:
                job.cancel()
        finally:
            player.close()
        return 0 if played else 1


def _cost_summary(sent: int, from_cache: int, reused: int) -> None:
    """What this run cost, and what it did not have to buy again (on stderr)."""
    saved = from_cache + reused
    line = f"billed {sent} characters ({sent / 10_000:.4f} yuan) this run"
    if saved:
        parts = []
        if from_cache:
            parts.append(f"{from_cache} from the cache")
        if reused:
            parts.append(f"{reused} kept from an earlier run")
        line += f"; {saved} ({saved / 10_000:.4f} yuan) not bought again: " + ", ".join(parts)
    print(f"kuhu-say: {line}", file=sys.stderr)


def _batch(args: argparse.Namespace, items: list[tuple[int, str]], voicing: Voicing) -> int:
    from .batch import run_batch
    from .speech import Synthesizer

    with _settings(args) as settings, Synthesizer.from_settings(settings) as synth:
        result = run_batch(
            items,
            Path(args.out_dir),
            synth,
            voicing,
            fmt=args.format,
            on_progress=_Progress("batch"),
        )
    print(
        f"wrote {len(result.written)}, skipped {len(result.skipped)} already done, "
        f"failed {len(result.failed)}",
        file=sys.stderr,
    )
    for path, exc in result.failed:
        print(f"kuhu-say: error: {path.name}: {exc}", file=sys.stderr)
    return 1 if result.failed else 0


def emulator_main(argv: Sequence[str] | None = None) -> int:
    """``python -m kuhu_driver.testing``: run the emulator until Ctrl-C."""
    import time

    from .testing import KuhuEmulator

    parser = argparse.ArgumentParser(
        prog="python -m kuhu_driver.testing",
        description="Run the kuhuyun API emulator on 127.0.0.1 until Ctrl-C.",
    )
    parser.add_argument("--port", type=int, default=0, help="port (default: any free one)")
    parser.add_argument("--key", help="API key to accept (default: a random one)")
    parser.add_argument("--secret", help="require signed requests with this secret")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each answer")
    parser.add_argument(
        "--per-char", type=float, default=0.0, help="synthesis seconds per billed character"
    )
    parser.add_argument(
        "--audio-per-char",
        type=float,
        default=0.08,
        help="seconds of test audio per billed character (default 0.08)",
    )
    parser.add_argument("--error-style", choices=("status", "json"), default="status")
    args = parser.parse_args(argv)
    emu = KuhuEmulator(
        api_key=args.key,
        api_secret=args.secret,
        latency=args.latency,
        seconds_per_billed_char=args.per_char,
        audio_seconds_per_billed_char=args.audio_per_char,
        error_style=args.error_style,
        port=args.port,
    )
    with emu:
        print(f"kuhu emulator listening on {emu.url}", flush=True)
        for name, value in emu.env().items():
            print(f"export {name}={value}", flush=True)
        print("(Ctrl-C to stop; its audio is a test signal, not a voice)", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
    return 0
