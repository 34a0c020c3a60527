"""The Speech Dispatcher module (kuhu_driver/speechd) spoken to as the server speaks to
it, over its stdin and stdout, in its own process, against the emulator: every command
answered, every message ended exactly once, the audio exact, nothing but the protocol
on stdout. The module under a real server is in test_server.py."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import IO

import pytest
from helpers import expected_pcm

from kuhu_driver.api import VOICES
from kuhu_driver.speechd._settings import SpeechdSettings, key_words, voice_for
from kuhu_driver.speechd._speaker import message_script, trim_marks
from kuhu_driver.speechd._wire import escape_pcm
from kuhu_driver.testing import KuhuEmulator


def unescape(data: bytes) -> bytes:
    return data.replace(b"}*", b"\n").replace(b"}]", b"}")


class ModuleProcess:
    """``python -m kuhu_driver.speechd`` with the server's end of its pipes."""

    def __init__(self, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "kuhu_driver.speechd", "/nonexistent/kuhu.conf"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.stdin: IO[bytes] = self.proc.stdin
        self.stdout: IO[bytes] = self.proc.stdout

    def send(self, text: str) -> None:
        self.stdin.write(text.encode())
        self.stdin.flush()

    def reply(self) -> list[str]:
        """One reply: its lines up to the one whose code is followed by a space."""
        lines = []
        while True:
            line = self.stdout.readline().decode().rstrip("\n")
            assert line, "the module closed its output"
            lines.append(line)
            if len(line) > 3 and line[3] == " ":
                return lines

    def message(self, kind: str, data: str) -> None:
        self.send(f"{kind}\n{data}\n.\n")
        assert self.reply() == ["202 OK RECEIVING MESSAGE"]
        assert self.reply() == ["200 OK SPEAKING"]

    def events(self, timeout: float = 30.0) -> tuple[list[str], bytes]:
        """A message's events up to its end (END, STOP or PAUSE), and its audio."""
        events: list[str] = []
        audio = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.stdout.readline()
            assert line, "the module closed its output"
            if line.startswith(b"705-AUDIO\0"):
                data = line[len(b"705-AUDIO\0") :].rstrip(b"\n")
                audio += unescape(data)
                continue
            text = line.decode().rstrip("\n")
            if text.startswith("705"):
                continue
            events.append(text)
            if text in ("702 END", "703 STOP", "704 PAUSE"):
                return events, audio
        raise AssertionError(f"no end of the message within {timeout} s: {events}")

    def close(self) -> str:
        if self.proc.poll() is None and not self.stdin.closed:
            self.send("QUIT\n")
            assert self.reply() == ["210 OK QUIT"]
        self.proc.wait(10)
        assert self.proc.stderr is not None
        log = self.proc.stderr.read().decode()
        for pipe in (self.stdin, self.stdout, self.proc.stderr):
            pipe.close()
        return log


@pytest.fixture
def module(kuhu_emulator: KuhuEmulator) -> Iterator[ModuleProcess]:
    mod = ModuleProcess(dict(os.environ))
    mod.send("INIT\n")
    assert mod.reply()[-1] == "299 OK LOADED SUCCESSFULLY"
    yield mod
    mod.close()


def test_init_is_answered_at_once_and_every_command_gets_its_reply(
    kuhu_emulator: KuhuEmulator,
) -> None:
    mod = ModuleProcess(dict(os.environ))
    t0 = time.monotonic()
    mod.send("INIT\n")
    assert mod.reply() == ["299-kuhu: kuhuyun cloud voices", "299 OK LOADED SUCCESSFULLY"]
    assert time.monotonic() - t0 < 5  # the interpreter's start; the network comes later
    mod.send("AUDIO\naudio_output_method=server\n.\n")
    assert mod.reply() == ["207 OK RECEIVING AUDIO SETTINGS"]
    assert mod.reply() == ["203 OK AUDIO INITIALIZED"]
    mod.send("LOGLEVEL\nlog_level=3\n.\n")
    assert mod.reply() == ["207 OK RECEIVING LOGLEVEL SETTINGS"]
    assert mod.reply() == ["203 OK LOGLEVEL SET"]
    mod.send("SET\nrate=20\nvoice=female1\nno_such=1\n.\n")
    assert mod.reply() == ["203 OK RECEIVING SETTINGS"]
    assert mod.reply() == ["203 OK SETTINGS RECEIVED"]
    mod.send("DEBUG ON /tmp/x\n")
    assert mod.reply() == ["200 OK DEBUGGING ON"]
    mod.send("WHAT IS THIS\n")
    assert mod.reply() == ["300 ERR UNKNOWN COMMAND"]
    mod.send("LIST VOICES\n")
    voices = mod.reply()
    assert voices[-1] == "200 OK VOICE LIST SENT"
    assert "200-小淳\tzh-CN\tnone" in voices and "200-小淳\ten-US\tnone" in voices
    assert len(voices) == 1 + sum(len(v.languages) for v in VOICES)  # each, per language
    mod.close()
    assert mod.proc.returncode == 0


def test_speak_sends_the_audio_exactly_with_marks_where_they_fall(
    module: ModuleProcess, kuhu_emulator: KuhuEmulator
) -> None:
    module.message("SPEAK", '<speak>你好<mark name="m1"/>世界。</speak>')
    events, audio = module.events()
    assert events == ["701 BEGIN", "700-m1", "700 INDEX MARK", "702 END"]
    assert audio == expected_pcm(kuhu_emulator, "你好世界。", volume=100)
    assert [r.text for r in kuhu_emulator.requests] == ["你好世界。"]


def test_audio_bytes_that_look_like_protocol_are_escaped_and_come_back_whole() -> None:
    raw = bytes(range(256)) * 4 + b"\n.\n}}\n"
    assert b"\n" not in escape_pcm(raw)
    assert unescape(escape_pcm(raw)) == raw


def test_stop_ends_the_message_at_once_with_one_stop_and_buys_nothing_more(
    module: ModuleProcess, kuhu_emulator: KuhuEmulator
) -> None:
    kuhu_emulator.latency = 1.0
    text = "".join(f"Sentence number {i} is here. " for i in range(200))
    module.message("SPEAK", text)
    time.sleep(0.3)
    module.send("STOP\n")
    t0 = time.monotonic()
    events, _ = module.events()
    assert time.monotonic() - t0 < 1.5
    assert events[0] == "701 BEGIN" and events[-1] == "703 STOP"
    assert events.count("703 STOP") == 1 and "702 END" not in events
    time.sleep(1.5)  # what was in flight has ended
    # The first piece and the one after it (a screen reader's message is fetched only
    # just ahead), none asked for after the STOP.
    assert len(kuhu_emulator.requests) <= 2
    assert all(r.arrived < t0 for r in kuhu_emulator.requests)


@pytest.mark.parametrize(
    ("kind", "data", "said"),
    [
        ("CHAR", "a", "a"),
        ("CHAR", " ", "空格"),
        ("KEY", "ctrl_a", "控制 a"),
        ("KEY", "space", "空格"),
        ("SPEAK", "e" + "\u0301" * 2500, "e" + "\u0301" * 4),  # Zalgo: trimmed, not refused
    ],
)
def test_characters_keys_and_text_the_api_cannot_take_are_spoken(
    module: ModuleProcess, kuhu_emulator: KuhuEmulator, kind: str, data: str, said: str
) -> None:
    module.message(kind, data)
    events, audio = module.events()
    assert events == ["701 BEGIN", "702 END"]
    assert [r.text for r in kuhu_emulator.requests] == [said]
    assert audio == expected_pcm(kuhu_emulator, said, volume=100)


def test_a_message_with_nothing_to_say_ends_at_once_and_a_sound_icon_is_an_event(
    module: ModuleProcess, kuhu_emulator: KuhuEmulator
) -> None:
    module.message("SPEAK", "<speak>\u200b\u3164 </speak>")
    assert module.events()[0] == ["701 BEGIN", "702 END"]
    module.message("SOUND_ICON", "message-sent")
    assert module.events()[0] == ["701 BEGIN", "706-message-sent", "706 ICON", "702 END"]
    assert kuhu_emulator.requests == []


def test_nothing_but_the_protocol_reaches_stdout(kuhu_emulator: KuhuEmulator) -> None:
    """A library that prints (here: a print in the module's process, at start) writes to
    the server's log, never into the protocol."""
    code = (
        "import sys, runpy; sys.argv = ['sd_kuhu']; "
        "from kuhu_driver.speechd import _wire; claim = _wire.Wire.claim\n"
        "def noisy():\n    w = claim(); print('stray output'); return w\n"
        "_wire.Wire.claim = staticmethod(noisy)\n"
        "from kuhu_driver.speechd import main; main()"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        input=b"INIT\nQUIT\n",
        capture_output=True,
        timeout=30,
    )
    assert proc.stdout.decode().splitlines() == [
        "299-kuhu: kuhuyun cloud voices",
        "299 OK LOADED SUCCESSFULLY",
        "210 OK QUIT",
    ]
    assert "stray output" in proc.stderr.decode()


def test_the_module_ends_with_its_server(kuhu_emulator: KuhuEmulator) -> None:
    mod = ModuleProcess(dict(os.environ))
    mod.send("INIT\n")
    mod.reply()
    mod.stdin.close()  # the server went away
    assert mod.proc.wait(10) == 0
    mod.close()


def test_without_a_key_the_local_voice_speaks_and_the_log_says_why(
    kuhu_emulator: KuhuEmulator,
) -> None:
    env = {k: v for k, v in os.environ.items() if k != "KUHU_API_KEY"}
    env["KUHU_FALLBACK"] = "local"
    mod = ModuleProcess(env)
    mod.send("INIT\n")
    mod.reply()
    mod.message("SPEAK", "<speak>本地的声音。</speak>")
    events, audio = mod.events(timeout=60)
    assert events == ["701 BEGIN", "702 END"]
    assert len(audio) > 22050  # eSpeak NG said it: more than half a second
    log = mod.close()
    assert log.count("kuhu: no API key") == 1
    assert kuhu_emulator.requests == []


def test_settings_map_onto_the_apis_units_and_voices() -> None:
    s = SpeechdSettings().updated(["rate=100", "pitch=-100", "volume=0", "voice=female1"])
    v = s.voicing()
    assert (v.rate, v.pitch, v.volume) == (2.0, 0.5, 50)
    assert s.voice().gender == "female"
    assert voice_for("en", "child_male").name == "小杰"  # the first English-speaking boy
    assert voice_for("zh", "male1").name == "小淳"  # the server's default: ours
    assert "en-US" in voice_for("en-US", "male1").languages
    named = SpeechdSettings().updated(["synthesis_voice=小婉"]).voice()
    assert named.name == "小婉"
    assert SpeechdSettings().updated(["rate=fast"]).rate == 0  # a bad value: kept
    assert key_words("page_up", "en") == "page up" and key_words("shift_tab", "zh") == "上档 制表"


def test_the_servers_sentence_marks_end_requests_and_spelling_spells() -> None:
    script = message_script(
        "SPEAK",
        '<speak>One. <mark name="__spd_1"/>Two. <mark name="__spd_2"/>Three.</speak>',
        SpeechdSettings(),
    )
    assert sorted(set(script.cuts)) == script.cuts and len(script.cuts) == 2
    spelt = message_script("SPEAK", "<speak>abc</speak>", SpeechdSettings(spelling=True))
    assert spelt.text == "a b c"
    assert trim_marks("x" + "\u0300" * 10 + "y") == "x" + "\u0300" * 4 + "y"


def test_the_module_uses_the_key_stored_once(kuhu_emulator: KuhuEmulator) -> None:
    """A desktop session starts the server without the user's shell variables."""
    from kuhu_driver import _keystore
    from kuhu_driver._config import config_dir

    _keystore.store_key(kuhu_emulator.api_key, None, config_dir())
    env = {k: v for k, v in os.environ.items() if k != "KUHU_API_KEY"}
    mod = ModuleProcess(env)
    mod.send("INIT\n")
    mod.reply()
    mod.message("SPEAK", "<speak>钥匙存好了。</speak>")
    assert mod.events()[0] == ["701 BEGIN", "702 END"]
    assert "the key comes from a file only you can read" in mod.close()
    assert [(r.text, r.outcome) for r in kuhu_emulator.requests] == [("钥匙存好了。", "ok")]


def test_a_refused_key_is_one_line_in_the_log_and_the_local_voice_speaks(
    kuhu_emulator: KuhuEmulator,
) -> None:
    env = {**os.environ, "KUHU_API_KEY": "not-the-key", "KUHU_FALLBACK": "local"}
    mod = ModuleProcess(env)
    mod.send("INIT\n")
    mod.reply()
    for text in ("第一条。", "第二条。"):
        mod.message("SPEAK", f"<speak>{text}</speak>")
        events, audio = mod.events(timeout=60)
        assert events == ["701 BEGIN", "702 END"]
        assert len(audio) > 11025  # the local voice said it
    log = mod.close()
    said = [line for line in log.splitlines() if "403" in line]
    assert len(said) == 1, log
    assert all(r.outcome != "ok" for r in kuhu_emulator.requests)
