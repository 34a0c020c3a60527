"""A screen-reader-style line reader: speaks standard input line by line.

Each line is queued as soon as it is read, so reading and speaking overlap. Ctrl-C
stops the speech at once and exits cleanly.

    printf '第一行\\n第二行\\n' | python examples/line_reader.py
"""

from __future__ import annotations

import sys

import pyttsx3


def main() -> int:
    # Piped text is UTF-8 (a BOM from Notepad dropped), whatever the console's code page:
    # on Windows a pipe would otherwise be read as cp1252 and spoken as mojibake.
    sys.stdin.reconfigure(encoding="utf-8-sig")  # type: ignore[union-attr]
    engine = pyttsx3.init("kuhu")
    engine.connect("finished-utterance", lambda name, completed: print(f"{name}: done"))
    try:
        for number, line in enumerate(sys.stdin, 1):
            if line.strip():
                engine.say(line.strip(), f"line {number}")
                engine.runAndWait()
    except KeyboardInterrupt:
        engine.stop()
        print("interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
