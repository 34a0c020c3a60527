"""Does this setup work? Settings, the audio device, and one tiny request, explained.

``check_setup()`` is what ``kuhu-say --check`` runs: each step gives a :class:`Finding`,
and a failed step says, in one line, what to do about it. The request is the smallest
useful one (a single character), sent only once its cost was shown and accepted.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .._config import DEFAULT_API_URL, Settings, resolve_settings
from .._text import billed_chars, yuan
from ..api import KuhuClient, build_request, check_url
from ..errors import (
    AudioDeviceError,
    AuthError,
    BadRequestError,
    BadResponseError,
    ConfigError,
    KuhuError,
    ServerError,
    TLSError,
    TransportError,
)

if TYPE_CHECKING:
    from ..audio import Player

#: The text of the check's request: one character, 2 billed characters (0.0002 yuan).
PROBE_TEXT = "好"
#: The check's request gives up after this long (one attempt, no retries).
PROBE_TIMEOUT = 15.0


@dataclass(frozen=True)
class Finding:
    """One line of the report. ``ok`` is None for plain information."""

    topic: str
    ok: bool | None
    detail: str
    fix: str | None = None


@dataclass
class CheckReport:
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing failed."""
        return all(f.ok is not False for f in self.findings)

    def add(self, topic: str, ok: bool | None, detail: str, fix: str | None = None) -> Finding:
        finding = Finding(topic, ok, detail, fix)
        self.findings.append(finding)
        return finding

    def lines(self) -> list[str]:
        """The report as text: a mark, the topic, what was found, and the fix if any."""
        width = max((len(f.topic) for f in self.findings), default=0)
        out = []
        for f in self.findings:
            mark = {True: "ok  ", False: "FAIL", None: "    "}[f.ok]
            out.append(f"{mark} {f.topic.ljust(width)}  {f.detail}")
            if f.fix:
                out.append(f"     {' ' * width}  -> {f.fix}")
        out.append("all good" if self.ok else "something needs fixing (see FAIL above)")
        return out


def check_setup(
    *,
    request: bool = True,
    confirm: Callable[[str], bool] | None = None,
    play: bool = True,
    env: Mapping[str, str] | None = None,
    sample_rate: int = 22050,
) -> CheckReport:
    """Check the setup and return the report (nothing raises for what it finds).

    ``request=False`` checks everything but the request. Before the request is sent,
    ``confirm(question)`` is asked (None: send without asking); a False answer skips it.
    ``play`` plays the answer on the audio device.
    """
    env = os.environ if env is None else env
    report = CheckReport()
    settings = _settings(report, env)
    if settings is None:
        return report
    player = _device(report, settings, sample_rate)
    try:
        if not request:
            report.add("request", None, "not sent (--no-request)")
            return report
        if not settings.api_key:
            report.add("request", False, "not sent: there is no key to send it with")
            return report
        billed = billed_chars(PROBE_TEXT)
        question = (
            f"send 1 request ({billed} billed characters, {yuan(billed):.4f} yuan; "
            "the account's first 10 characters are free)?"
        )
        if confirm is not None and not confirm(question):
            report.add(
                "request", False, "not sent: not confirmed", "run again with --yes to send it"
            )
            return report
        pcm = _request(report, settings, sample_rate)
        if pcm is not None and player is not None and play:
            _play(report, player, pcm, sample_rate)
        return report
    finally:
        if player is not None:
            player.close()


def _settings(report: CheckReport, env: Mapping[str, str]) -> Settings | None:
    try:
        settings = resolve_settings(env=env, require_key=False)
        endpoint = check_url(settings.api_url)
    except ConfigError as exc:
        report.add("settings", False, str(exc), "fix the setting named above")
        return None
    if settings.api_key:
        report.add(
            "key",
            True,
            f"set (ends in …{settings.api_key[-4:]}), from {settings.key_source}",
        )
    else:
        report.add(
            "key",
            False,
            "not set",
            "set KUHU_API_KEY to your key (console → 密钥管理), or store it once with "
            "kuhu-say --set-key; to try without one: kuhu-say --emulator",
        )
    if settings.api_secret:
        where = "KUHU_API_SECRET" if env.get("KUHU_API_SECRET") else settings.key_source
        report.add("secret", None, f"set (requests are signed), from {where}")
    else:
        report.add("secret", None, "not set (requests are not signed)")
    where = "default" if settings.api_url.strip() == DEFAULT_API_URL else "from KUHU_API_URL"
    report.add("endpoint", None, f"{endpoint} ({where})")
    if settings.cache_dir is None:
        report.add("cache", None, "off")
    else:
        from ..pipeline import AudioCache

        cache = AudioCache(settings.cache_dir, settings.cache_max_bytes)
        try:
            used = cache.size()
        except OSError as exc:
            report.add("cache", None, f"{cache.root}: cannot be read ({exc.strerror or exc})")
        else:
            report.add(
                "cache",
                None,
                f"{cache.root}: {used / 1e6:.1f} MB of {settings.cache_max_bytes / 1e6:.0f} MB",
            )
    return settings


def _device(report: CheckReport, settings: Settings, sample_rate: int) -> Player | None:
    from ..audio import make_player

    try:
        player = make_player(settings.audio)
        player.prepare(sample_rate)
    except AudioDeviceError as exc:
        report.add(
            "audio",
            False,
            f"{settings.audio}: {exc}",
            "check the sound card or sound server; without one, write files: kuhu-say --out x.wav",
        )
        return None
    report.add("audio", True, f"{player.backend}, output device {player.device}")
    return player


def _request(report: CheckReport, settings: Settings, sample_rate: int) -> bytes | None:
    client = KuhuClient(
        settings=settings, max_attempts=1, timeout=PROBE_TIMEOUT, deadline=PROBE_TIMEOUT
    )
    req = build_request(PROBE_TEXT, format="pcm", sample_rate=sample_rate)
    t0 = time.monotonic()
    try:
        with client:
            audio = client.send(req)
            answer = client.last_answer
    except KuhuError as exc:
        _explain(report, settings, exc)
        return None
    ms = (time.monotonic() - t0) * 1000
    report.add("reachable", True, f"{client.url.host} answered in {ms:.0f} ms")
    report.add(
        "key accepted",
        True,
        "the server took the key" + (" and the signature" if settings.api_secret else ""),
    )
    if answer is not None:
        report.add(
            "answer",
            True,
            f"HTTP {answer.status}, {answer.content_type or 'no content type'}, "
            f"{answer.kind}, {answer.size} bytes: {answer.seconds:.2f} s at "
            f"{audio.sample_rate} Hz",
        )
    return audio.data


def _explain(report: CheckReport, settings: Settings, exc: KuhuError) -> None:
    """Findings for a failed request: what happened and what to do."""
    if isinstance(exc, TLSError):
        from datetime import datetime, timezone

        now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        fix = (
            f"check this machine's clock (it says {now}) and any proxy or antivirus that "
            "inspects HTTPS"
        )
        report.add("reachable", False, str(exc), fix)
        return
    if isinstance(exc, TransportError):
        report.add("reachable", False, str(exc), "check the network, a firewall, or KUHU_API_URL")
        return
    report.add("reachable", True, "the server answered")
    if isinstance(exc, AuthError):
        topic, fix = (
            "key accepted",
            (
                "check KUHU_API_KEY and KUHU_API_SECRET against the console (密钥管理)"
                if settings.api_secret
                else "check KUHU_API_KEY; if signing is on in the console, set KUHU_API_SECRET "
                "to the signing secret"
            ),
        )
    elif isinstance(exc, BadRequestError):
        topic, fix = (
            "answer",
            (
                "the server refused the request; a voice id from voice cloning must exist in "
                "your console"
            ),
        )
    elif isinstance(exc, ServerError):
        topic, fix = "answer", "try again in a minute"
    elif isinstance(exc, BadResponseError):
        topic, fix = (
            "answer",
            (
                "the endpoint is not the synthesis API, or a proxy answers for it: check "
                "KUHU_API_URL"
            ),
        )
    else:
        topic, fix = "request", "run again with -v to see what happened"
    report.add(topic, False, str(exc), fix)


def _play(report: CheckReport, player: Player, pcm: bytes, sample_rate: int) -> None:
    import threading

    from ..audio import Segment

    seg = Segment(pcm, sample_rate)
    try:
        player.enqueue(seg)
        player.wait(seg, threading.Event(), drain=True)
    except AudioDeviceError as exc:
        report.add("playback", False, str(exc), "check the sound card or sound server")
        return
    report.add("playback", True, f"played {len(pcm) / 2 / sample_rate:.2f} s")
