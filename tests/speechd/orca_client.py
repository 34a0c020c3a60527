"""A Speech Dispatcher client that drives the server as Orca does, with Debian's
``speechd`` (python3-speechd, for the system Python only: run with /usr/bin/python3).

    /usr/bin/python3 orca_client.py MODE

Reads the text from stdin; prints one JSON line: the events (BEGIN, INDEX_MARK, END,
CANCEL, PAUSE, RESUME) with their time.monotonic(), which the test process shares, and
the times of what it did. Modes:

- ``marks``: SSML with marks, spoken to its end.
- ``cancel``: the text spoken, cancelled 1.5 s after it began.
- ``pause``: the text, paused 1 s after it began and resumed 2 s later, to its end.
- ``storm``: 40 characters each cancelled at once, as key echo is, then the text whole.
"""

from __future__ import annotations

import importlib
import json
import sys
import threading
import time
from typing import Any

# Debian's client, of the system Python (not tests/speechd, which mirrors our package).
speechd: Any = importlib.import_module("speechd")


def main() -> None:
    mode = sys.argv[1]
    text = sys.stdin.read()
    client = speechd.SSIPClient("kuhu-test")
    client.set_output_module("kuhu")
    client.set_data_mode(speechd.DataMode.SSML)
    out: dict[str, object] = {"events": []}
    events: list[list[object]] = out["events"]  # type: ignore[assignment]
    ended = threading.Event()

    def callback(kind: str, index_mark: str | None = None) -> None:
        events.append([time.monotonic(), kind, index_mark])
        if kind in (speechd.CallbackType.END, speechd.CallbackType.CANCEL):
            ended.set()

    types = [
        speechd.CallbackType.BEGIN,
        speechd.CallbackType.END,
        speechd.CallbackType.CANCEL,
        speechd.CallbackType.INDEX_MARK,
        speechd.CallbackType.PAUSE,
        speechd.CallbackType.RESUME,
    ]
    if mode == "storm":
        for i in range(40):
            client.char("abcdefghij"[i % 10])
            client.cancel()
        out["storm_end"] = time.monotonic()
    out["said"] = time.monotonic()
    client.speak(text, callback=callback, event_types=types)
    began = time.monotonic()
    if mode == "cancel":
        time.sleep(1.5)
        out["cancel"] = time.monotonic()
        client.cancel()
    elif mode == "pause":
        time.sleep(1.0)
        out["pause"] = time.monotonic()
        client.pause()
        time.sleep(2.0)
        out["resume"] = time.monotonic()
        client.resume()
    ended.wait(120)
    out["began"] = began
    client.close()
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
