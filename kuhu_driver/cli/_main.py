"""kuhu-say: speak text, or write it to audio files, with the kuhuyun voices.

Thin by design: parse, call the library, turn a KuhuError into one line on stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import logging
import os
import stat
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from .._cancel import CancelToken
from .._config import DEFAULT_MAX_BILLED, Settings, resolve_settings, speech_settings
from .._model import Voicing
from .._text import yuan
from ..api import resolve_voice_id
from ..errors import KuhuError
from ..pipeline import (
    Job,
    Session,
    Synthesizer,
    check_destination,
    estimate,
    save_format,
    save_text,
    subtitle_format,
)
from ._batch import run_batch
from ._check import check_setup
from ._output import (
    Progress,
    console,
    cost_summary,
    list_voices,
    piece_progress,
    result,
    shown,
    tell,
)
from ._parser import EMULATOR_NOTICE, build_parser


def _read(path: str) -> str:
    """The text of ``path`` (``-``: standard input), always as UTF-8, a byte-order mark
    dropped: never the console's code page, whose mojibake would be sent and billed.
    Never more than ``_read_limit()`` bytes, and never a device (``/dev/zero``)."""
    where = "standard input" if path == "-" else shown(path)
    limit = _read_limit()
    buffer = getattr(sys.stdin, "buffer", None)
    if path == "-" and buffer is None:  # a stdin replaced by text (an embedding program)
        text = sys.stdin.read(limit + 1)
        if len(text) > limit:
            raise KuhuError(_too_long(where, limit))
        return text.removeprefix("\ufeff")
    raw: bytes
    try:
        if path == "-" and buffer is not None:
            raw = buffer.read(limit + 1)
        else:
            with Path(path).open("rb") as f:
                mode = os.fstat(f.fileno()).st_mode
                if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
                    raise KuhuError(f"cannot read {where}: it is a device, not a text file")
                raw = f.read(limit + 1)
    except OSError as exc:
        raise KuhuError(f"cannot read {where}: {exc.strerror or exc}") from None
    if len(raw) > limit:
        raise KuhuError(_too_long(where, limit))
    try:
        if raw.startswith((b"\xff\xfe", b"\xfe\xff")):  # PowerShell 5.1's > and Out-File
            return _not_mangled(raw.decode("utf-16"), where)
        return _not_mangled(raw.decode("utf-8-sig"), where)
    except UnicodeDecodeError:
        raise KuhuError(
            f"cannot read {where}: it is not UTF-8 text (save it as UTF-8; on Windows, "
            "`chcp 65001` makes the console send UTF-8)"
        ) from None


def _not_mangled(text: str, where: str) -> str:
    """``text``, unless it is only question marks and spaces: what a console sends when
    it could not encode the text (PowerShell 5.1 pipes to programs as ASCII), which
    would be billed and read out as question marks."""
    if "?" in text and not text.replace("?", "").strip():
        raise KuhuError(
            f"{where} holds only question marks: the console could not encode the text. "
            "In PowerShell, run $OutputEncoding = [Text.UTF8Encoding]::new() first, or "
            "save the text as UTF-8 and use -f FILE"
        )
    return text


def _read_limit() -> int:
    """The most text read: 16 bytes per billed character allowed (a billed character is
    at most 4 bytes of UTF-8, and spaces and marks around it bill nothing)."""
    try:
        return 16 * resolve_settings(require_key=False).max_billed
    except KuhuError:
        return 16 * DEFAULT_MAX_BILLED  # the bad setting is reported where it is used


def _too_long(where: str, limit: int) -> str:
    return (
        f"cannot read {where}: it is over {limit:,} bytes, more text than KUHU_MAX_BILLED "
        "allows (split it, or raise KUHU_MAX_BILLED if you mean it)"
    )


def _console_safe() -> None:
    """Output that a console's code page cannot show is escaped (\\u5c0f), never a
    UnicodeEncodeError: Windows pipes and files use the ANSI code page (cp1252…)."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            with contextlib.suppress(ValueError, OSError):
                reconfigure(errors="backslashreplace")


@contextmanager
def _settings(args: argparse.Namespace) -> Iterator[Settings]:
    fallback = "off" if args.no_fallback else None
    if not args.emulator:
        # Speaking needs no key (the local voice speaks); files and batches do.
        resolve = resolve_settings if (args.out or args.batch) else speech_settings
        yield resolve(fallback=fallback)
        return
    from ..testing import KuhuEmulator

    with KuhuEmulator() as emu:
        tell(EMULATOR_NOTICE)
        yield resolve_settings(
            api_key=emu.api_key, api_url=emu.url, cache=False, api_secret="", fallback=fallback
        )


def main(argv: Sequence[str] | None = None) -> int:
    _console_safe()
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.verbose:
        logging.basicConfig(level=logging.DEBUG, format="%(levelname)s %(name)s: %(message)s")
    with console():
        return _main(parser, args)


def _main(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    try:
        return _run(parser, args)
    except KuhuError as exc:
        tell(f"kuhu-say: error: {shown(str(exc), quote=False)}")
        return 1
    except KeyboardInterrupt:
        tell("kuhu-say: interrupted")
        return 130
    except OSError as exc:
        # The reader went away (| head): stop quietly, as other commands do. Windows
        # says so with EINVAL on a closed pipe, not EPIPE.
        if not isinstance(exc, BrokenPipeError) and exc.errno != errno.EINVAL:
            raise
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


def _run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    one_time = ("set_key", "forget_key", "install_speechd", "uninstall_speechd")
    chosen = [f for f in one_time if getattr(args, f)]
    if chosen:
        if len(chosen) > 1 or args.text or args.file or args.batch or args.out:
            parser.error(f"--{chosen[0].replace('_', '-')} goes alone")
        from . import _setup

        return _setup.run(chosen[0])
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
    if args.batch and args.subtitles:
        parser.error("--subtitles goes with --out, not --batch")
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
            return _dry_run([text for _, text in items], args.markup)
        return _batch(args, items, voicing)

    text = args.text if args.text else _read(args.file)
    if not text.strip():
        parser.error("the text is empty: there is nothing to speak")
    if args.dry_run:
        return _dry_run([text], args.markup)
    if args.subtitles and not args.out:
        parser.error("--subtitles needs --out: they are timed to the written audio")
    if args.out:
        try:
            save_format(args.out)
            if args.subtitles:
                subtitle_format(args.subtitles)
        except KuhuError as exc:
            parser.error(f"--out: {exc}" if not args.subtitles else str(exc))
        check_destination(args.out)  # before settings and requests: costs nothing
        if args.subtitles:
            check_destination(args.subtitles)
    return _speak(args, text, voicing)


def _check(args: argparse.Namespace) -> int:
    def ask(question: str) -> bool:
        if not (sys.stdin.isatty() and sys.stderr.isatty()):
            tell(f"kuhu-say: {question} No terminal to ask: add --yes")
            return False
        sys.stderr.write(f"{question} [y/N] ")
        sys.stderr.flush()
        return sys.stdin.readline().strip().lower() in ("y", "yes")

    env: dict[str, str] = dict(os.environ)
    with contextlib.ExitStack() as stack:
        if args.emulator:
            from ..testing import KuhuEmulator

            emu = stack.enter_context(KuhuEmulator())
            tell(EMULATOR_NOTICE)
            env.update(emu.env())
            env.pop("KUHU_API_SECRET", None)
        report = check_setup(
            request=not args.no_request,
            confirm=None if args.yes else ask,
            env=env,
            sample_rate=args.sample_rate,
        )
    for line in report.lines():
        result(line)
    return 0 if report.ok else 1


def _dry_run(texts: list[str], markup: str) -> int:
    billed = requests = 0
    silence = 0.0
    for t in texts:
        e = estimate(t, markup=markup)
        billed += e.billed_chars
        requests += e.requests
        silence += e.silence_seconds
    result(f"billed characters: {billed}")
    result(f"requests: {requests}")
    if silence:
        result(f"silence added: {silence:.3f} s (made here, not sent or billed)")
    result(f"cost: {yuan(billed):.4f} yuan (1 yuan per 10,000 billed characters; nothing was sent)")
    return 0


def _speak(args: argparse.Namespace, text: str, voicing: Voicing) -> int:
    with _settings(args) as settings:
        if not args.out:
            with Session(settings=settings) as session:
                played = session.speak_voiced(
                    text,
                    voicing,
                    CancelToken(),
                    on_fallback=lambda notice: tell(f"kuhu-say: note: {notice}"),
                    progress=lambda pieces: piece_progress("speaking", pieces),
                    markup=args.markup,
                )
            return 0 if played else 1
        with Synthesizer.from_settings(settings) as synth:
            out = Path(args.out).expanduser()
            began: list[Job] = []

            def progress(job: Job) -> Callable[[int], None] | None:
                began.append(job)
                return piece_progress("writing", len(job.spans))

            try:
                save_text(
                    synth,
                    text,
                    voicing,
                    out,
                    subtitles=Path(args.subtitles).expanduser() if args.subtitles else None,
                    fallback=settings.fallback == "always",
                    on_job=progress,
                    markup=args.markup,
                )
            finally:
                cost_summary(
                    synth.client.billed_chars_sent,
                    synth.billed_from_cache,
                    began[0].billed_reused if began else 0,
                    synth.billed_shared,
                )
        tell(f"wrote {shown(str(out))}")
        if args.subtitles:
            tell(f"wrote {shown(str(Path(args.subtitles).expanduser()))}")
        return 0


def _batch(args: argparse.Namespace, items: list[tuple[int, str]], voicing: Voicing) -> int:
    with _settings(args) as settings, Synthesizer.from_settings(settings) as synth:
        outcome = run_batch(
            items,
            Path(args.out_dir),
            synth,
            voicing,
            fmt=args.format,
            on_progress=Progress("batch"),
            markup=args.markup,
        )
    tell(
        f"wrote {len(outcome.written)}, skipped {len(outcome.skipped)} already done, "
        f"failed {len(outcome.failed)}"
    )
    for path, exc in outcome.failed:
        tell(f"kuhu-say: error: {shown(path.name)}: {shown(str(exc), quote=False)}")
    return 1 if outcome.failed else 0
