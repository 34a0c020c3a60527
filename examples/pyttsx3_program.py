"""An ordinary pyttsx3 program. Its only change for kuhuyun voices: ``pyttsx3.init("kuhu")``.

It never imports kuhu_driver: installing the package is enough. Run it with
``KUHU_API_KEY`` set, or against the emulator (``python -m kuhu_driver.testing`` prints
the variables to export).
"""

from __future__ import annotations

import pyttsx3


def main() -> None:
    engine = pyttsx3.init("kuhu")

    def on_start(name: str) -> None:
        print(f"started {name}")

    def on_end(name: str, completed: bool) -> None:
        print(f"finished {name} completed={completed}")

    engine.connect("started-utterance", on_start)
    engine.connect("finished-utterance", on_end)
    engine.say("你好，欢迎使用酷湖语音。", "welcome")
    engine.setProperty("rate", 240)
    engine.say("This sentence is a little faster.", "faster")
    engine.runAndWait()


if __name__ == "__main__":
    main()
