"""Sound as a listener hears it, on the real-time rig (PulseAudio null sink's monitor).

Each test runs ``heard_program.py`` in a subprocess that talks to the ``pulse``
fixture's daemon and records the sink's monitor with timestamps (``rig.Recorder``):
seams between pieces and utterances (silence added, audio overlapped), stop latency,
and a sound server that goes away mid-utterance. The default backend runs everywhere;
the simpleaudio backend runs where it is installed and safe, and is refused where it
would crash the interpreter.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from array import array
from pathlib import Path
from typing import Any

import pytest
from heard_program import AUDIO_PER_CHAR
from rig import (
    PROGRAM,
    RATE,
    PulseRig,
    Recorder,
    expected_signal,
    nonzero,
    run_heard,
    silent_runs,
)

from kuhu_driver.audio._simpleaudio import check_simpleaudio

pytestmark = [pytest.mark.realtime, pytest.mark.timing]


def simpleaudio_usable() -> bool:
    try:
        check_simpleaudio()
        import simpleaudio  # noqa: F401
    except Exception:
        return False
    return True


BACKENDS = ["miniaudio", "simpleaudio"]


def signal_span(out: dict[str, Any]) -> float:
    """First to last loud sample of everything the program sent, played back to back."""
    pieces = [p for ps in out["pieces"].values() for p in ps]
    loud = [
        i for i, s in enumerate(array("h", expected_signal(pieces, AUDIO_PER_CHAR))) if abs(s) > 300
    ]
    return (loud[-1] - loud[0]) / RATE


def events(out: dict[str, Any]) -> list[list[Any]]:
    return [e[1:] for e in out["events"]]


def test_pieces_and_utterances_follow_each_other_with_no_gap_and_no_overlap(
    pulse: Any,
) -> None:
    out, rec = run_heard(pulse, "seams")
    assert events(out) == [
        ["start", "long"],
        ["finish", "long", True],
        ["start", "short1"],
        ["finish", "short1", True],
        ["start", "short2"],
        ["finish", "short2", True],
    ]
    loud = rec.sound()
    heard = (loud[-1] - loud[0]) / RATE
    sent = signal_span(out)
    at_seams, dropouts = seam_silences(out, bytes(rec.data[2 * loud[0] : 2 * loud[-1] + 2]))
    # At a seam the player must join the pieces sample for sample: no silence there, and
    # the heard span equals the signal sent (an overlap would make it shorter). A dropout
    # inside a piece is the device starving (seen on this VM with a bare miniaudio
    # generator too, while the hypervisor steals 10-20 % of the CPU): the sound server
    # inserts silence and may skip samples, so in a run with dropouts the span may differ
    # by up to their total. A stream that stalls outright still fails.
    # What the player wrote is checked sample for sample at the exact capture (the next
    # test); here, what the sound server made of it.
    if not dropouts:
        assert at_seams == []
    assert abs(heard - sent) < 0.003 + sum(dropouts), (heard, sent, at_seams, dropouts)
    assert sum(dropouts) < 0.1 * sent, dropouts


def test_the_device_is_given_every_piece_back_to_back_with_nothing_between(
    pulse: PulseRig,
) -> None:
    """The same program on the exact capture (rig 3: ALSA's file plugin in front of the
    sound server, which paces it): the bytes the player wrote to the device, not its own
    account. The test audio has no zero sample, so between the first sound and the last
    no zero may be written, and the samples are the pieces in order, each exactly once."""
    start = pulse.capture_file.stat().st_size
    out, _ = run_heard(pulse, "seams", env=pulse.capture_env)
    assert [e[0] for e in events(out)] == ["start", "finish"] * 3
    samples = array("h", pulse.capture_file.read_bytes()[start:])
    loud = [i for i, x in enumerate(samples) if x]
    written = samples[loud[0] : loud[-1] + 1]
    zeros = [i for i, x in enumerate(written) if x == 0]
    assert zeros == [], f"{len(zeros)} zero samples written, first at {zeros[0] / RATE:.3f} s"
    pieces = [p for ps in out["pieces"].values() for p in ps]
    assert written.tobytes() == nonzero(expected_signal(pieces, AUDIO_PER_CHAR))


@pytest.mark.parametrize("backend", BACKENDS)
def test_pause_is_heard_at_once_and_resume_goes_on_from_the_same_sample(
    pulse: PulseRig, backend: str
) -> None:
    out, rec = run_heard(pulse, "pause", backend)
    if backend == "simpleaudio" and not simpleaudio_usable():
        # Refused (stock 1.0.4 on CPython 3.12+): one clear error, and pausing and
        # resuming that engine later changes nothing and crashes nothing (exit 0).
        assert events(out) == [
            ["start", "long"],
            ["error", "long", "AudioDeviceError"],
            ["finish", "long", False],
        ]
        assert out["requests"] == [] and rec.sound() == []
        return
    assert [e[0] for e in events(out)] == ["start", "finish"]
    loud = rec.sound()
    k = max(range(len(loud) - 1), key=lambda j: loud[j + 1] - loud[j])  # the longest silence
    went_quiet, came_back = rec.time_of(loud[k]), rec.time_of(loud[k + 1])
    # Silent within 50 ms of pause(), as stop() is; heard again soon after resume():
    # miniaudio's next period, or simpleaudio's new stream. A simpleaudio stream that is
    # stopped still plays what ALSA's PulseAudio plugin holds (measured: 230-240 ms).
    within = 0.05 if backend == "miniaudio" else 0.3
    assert -0.05 < went_quiet - out["pause"] < within, went_quiet - out["pause"]
    assert 0 <= came_back - out["resume"] < 0.1, came_back - out["resume"]
    # All of it heard, once: the sound either side of the pause adds up to what was
    # sent. miniaudio keeps its place to the sample. simpleaudio resumes from where
    # its clock says it was; what its stopped stream still played is heard again.
    sent = signal_span(out)
    heard = (loud[k] - loud[0] + loud[-1] - loud[k + 1]) / RATE
    if backend == "miniaudio":
        # A dropout (the device starved on a loaded machine: see the seams test) adds
        # its silence to what is heard; a sample played twice would add its length.
        dropouts = sorted(rec.silences(loud[0], loud[-1]))[:-1]  # all but the pause
        assert abs(heard - sent) < 0.003 + sum(dropouts), (heard, sent, dropouts)
    else:
        assert -0.02 < heard - sent < 0.45, (heard, sent)  # measured: +0.31 to +0.32 s
    pieces = out["pieces"]["long"]
    assert sorted(r[0] for r in out["requests"]) == sorted(pieces)  # none bought twice


def seam_silences(out: dict[str, Any], heard: bytes) -> tuple[list[float], list[float]]:
    """The silences heard, split into those at a seam (where one piece meets the next,
    within 5 ms) and dropouts inside a piece, in seconds."""
    pieces = [p for ps in out["pieces"].values() for p in ps]
    lengths = [len(expected_signal([p], AUDIO_PER_CHAR)) // 2 for p in pieces]
    signal = array("h", expected_signal(pieces, AUDIO_PER_CHAR))
    first_loud = next(i for i, x in enumerate(signal) if abs(x) > 300)
    seams = [sum(lengths[: k + 1]) - first_loud for k in range(len(lengths) - 1)]
    at_seams: list[float] = []
    dropouts: list[float] = []
    shift = 0  # silence heard so far: the signal's clock runs behind the recording's
    for start, n in silent_runs(heard):
        where = start - shift
        near = any(abs(where - seam) <= RATE * 0.005 for seam in seams)
        (at_seams if near else dropouts).append(n / RATE)
        shift += n
    return at_seams, dropouts


def test_simpleaudio_backend_never_overlaps_or_is_refused_clearly(pulse: Any) -> None:
    """Where simpleaudio is safe, pieces never overlap (a gap is allowed); where it would
    crash the interpreter (stock 1.0.4 on CPython 3.12+) or is missing, every utterance
    ends with a clear error event, nothing is billed, and the process does not crash."""
    if simpleaudio_usable():
        out, rec = run_heard(pulse, "seams", "simpleaudio")
        assert [e[0] for e in events(out)] == ["start", "finish"] * 3
        loud = rec.sound()
        heard = (loud[-1] - loud[0]) / RATE
        assert heard > signal_span(out) - 0.003, (heard, signal_span(out))
        # Gaps are allowed; lost audio is not: the heard span is the signal plus the gaps.
        lost = sum(rec.silences(loud[0], loud[-1])) - (heard - signal_span(out))
        assert lost < 0.005, lost
        return
    out, rec = run_heard(pulse, "first", "simpleaudio")  # exit 0: not 139, no segfault
    assert events(out)[:3] == [
        ["start", "u0"],
        ["error", "u0", "AudioDeviceError"],
        ["finish", "u0", False],
    ]
    assert len(events(out)) == 12  # each of the four rounds: the same clear error
    assert out["requests"] == []  # no device, nothing billed
    assert rec.sound() == []


@pytest.mark.parametrize("mode", ["stop-thread", "stop-callback"])
def test_stop_silences_within_50_ms_and_the_stream_stays_ready(pulse: Any, mode: str) -> None:
    out, rec = run_heard(pulse, mode)
    assert events(out) == [
        ["start", "long"],
        ["finish", "long", False],
        ["start", "after"],
        ["finish", "after", True],
    ]
    loud = rec.sound()
    t_after = next(e[0] for e in out["events"] if e[1:] == ["start", "after"])
    before = [i for i in loud if rec.time_of(i) < t_after]
    after = [i for i in loud if rec.time_of(i) >= t_after]
    last_heard = rec.time_of(before[-1])
    # It was playing when stop came (heard before it, and until about it: a word
    # callback's stop comes a few words in), and went silent within 50 ms of it.
    assert rec.time_of(before[0]) < out["stop"]
    assert -0.05 < last_heard - out["stop"] < 0.05, last_heard - out["stop"]
    # Nothing queued behind the stopped utterance was heard: the next sound is "after",
    # and all of it. Its span may grow by a dropout on a loaded machine (the sound
    # server's, measured by the seams test), never by "never" (75 ms of audio).
    heard_after = (after[-1] - after[0]) / RATE
    assert -0.01 < heard_after - out["sent"]["after"] < 0.05, heard_after


def test_the_sound_server_going_away_is_an_error_and_the_engine_recovers(
    tmp_path: Path,
) -> None:
    rig = PulseRig(tmp_path)
    rig.start()
    try:
        proc = subprocess.Popen(
            [sys.executable, PROGRAM, "vanish"],
            env={**rig.env, "KUHU_AUDIO": "miniaudio"},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert proc.stdin is not None and proc.stdout is not None
        assert proc.stdout.readline().strip() == "speaking"
        time.sleep(1.0)
        t_kill = time.monotonic()
        rig.stop()  # the sound server goes away mid-utterance
        time.sleep(2.5)
        rig.start()
        rec = Recorder(rig)
        # A sound server in its first second drops 5-15 ms of a stream now and then,
        # whoever plays (6 runs in 16 had such a gap, 1 in 16 once it had run 1 s):
        # let it settle, as the engine's recovery is what is measured here.
        time.sleep(1.0)
        try:
            proc.stdin.write("back\n")
            proc.stdin.flush()
            stdout, stderr = proc.communicate(timeout=60)
        finally:
            rec.stop()
        assert proc.returncode == 0, stderr
        out = json.loads(stdout.strip().splitlines()[-1])
        assert events(out) == [
            ["start", "long"],
            ["error", "long", "AudioDeviceError"],
            ["finish", "long", False],
            ["start", "after"],
            ["finish", "after", True],
        ]
        t_error = next(e[0] for e in out["events"] if e[1] == "error")
        assert t_error - t_kill < 2.0  # no hang: the watchdog notices within its second
        loud = rec.sound()
        assert loud, "nothing was heard after the server came back"
        heard = (loud[-1] - loud[0]) / RATE
        assert abs(heard - out["sent"]["after"]) < 0.01
    finally:
        rig.stop()
