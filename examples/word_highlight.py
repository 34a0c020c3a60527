"""Word events driving a highlight: the word being spoken is shown in [brackets].

``started-word`` carries the word's ``location`` and ``length`` in the utterance's own
text (a Han character is a word), timed across the audio.
"""

from __future__ import annotations

import sys

import pyttsx3

TEXT = "欢迎 to kuhu_driver: 每个字都会被高亮。"


def main() -> None:
    # A Windows pipe or file uses the ANSI code page (cp1252…), which has no Chinese:
    # show what it cannot as \uXXXX rather than stop with UnicodeEncodeError.
    sys.stdout.reconfigure(errors="backslashreplace")  # type: ignore[union-attr]
    engine = pyttsx3.init("kuhu")

    def on_word(name: str, location: int, length: int) -> None:
        shown = (
            f"{TEXT[:location]}[{TEXT[location : location + length]}]{TEXT[location + length :]}"
        )
        # A terminal shows the line redrawn in place; a pipe gets one line per word.
        end = "\r" if sys.stdout.isatty() else "\n"
        print(shown, end=end, flush=True)

    engine.connect("started-word", on_word)
    engine.say(TEXT, "highlight")
    engine.runAndWait()
    print()


if __name__ == "__main__":
    main()
