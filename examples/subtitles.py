"""A voice-over with subtitles: ``talk.mp3`` and ``talk.srt`` (or the names given).

Each subtitle begins and ends exactly where its sentence does in the MP3, however long
the text: a video editor lines them up with no drift.

    python examples/subtitles.py [talk.mp3 [talk.srt]] < script.txt
"""

from __future__ import annotations

import sys

import kuhu_driver

SCRIPT = (
    "大家好，欢迎收看本期视频。今天我们来聊一聊，怎样用几行 Python 代码给视频配上旁白和字幕。"
    "First, write the script. 然后，把它交给 kuhu_driver，剩下的事情它会帮你做好。"
)


def main() -> None:
    audio = sys.argv[1] if len(sys.argv) > 1 else "talk.mp3"
    subtitles = sys.argv[2] if len(sys.argv) > 2 else "talk.srt"
    # The script is UTF-8 (a BOM dropped) whatever the console's code page.
    piped = "" if sys.stdin.isatty() else sys.stdin.buffer.read().decode("utf-8-sig")
    script = piped.strip() or SCRIPT
    kuhu_driver.save(script, audio, subtitles=subtitles)
    print(f"wrote {audio} and {subtitles}")


if __name__ == "__main__":
    main()
