"""Which platform voice speaks Chinese text (kuhu_driver/local/_voices.py): the voices
as each platform names them, ranked Mandarin first and Cantonese last."""

from __future__ import annotations

import pytest

from kuhu_driver.local._voices import PlatformVoice, best_chinese, chinese_rank

# As the platforms list them (id, name, languages).
TINGTING = PlatformVoice("com.apple.voice.compact.zh-CN.Tingting", "Tingting", ("zh_CN",))
MEIJIA = PlatformVoice("com.apple.voice.compact.zh-TW.Meijia", "Meijia", ("zh_TW",))
SINJI = PlatformVoice("com.apple.voice.compact.zh-HK.Sinji", "Sinji", ("zh_HK",))
CMN = PlatformVoice("sit/cmn", "Chinese_(Mandarin)", ("\x05cmn",))
YUE = PlatformVoice("sit/yue", "Chinese_(Cantonese)", ("\x05yue",))
HUIHUI = PlatformVoice("TTS_MS_ZH-CN_HUIHUI_11.0", "Microsoft Huihui - Chinese (Simplified)", ())
TRACY = PlatformVoice(
    "TTS_MS_ZH-HK_TRACY_11.0", "Microsoft Tracy - Chinese(Traditional, HongKong SAR)", ()
)
ZIRA = PlatformVoice("TTS_MS_EN-US_ZIRA_11.0", "Microsoft Zira Desktop", ("409",))


@pytest.mark.parametrize(
    ("voice", "rank"),
    [
        (TINGTING, 0),
        (CMN, 0),
        (HUIHUI, 0),
        (PlatformVoice("x", "Chinese", ()), 1),
        (MEIJIA, 2),
        (SINJI, 3),
        (YUE, 3),
        (TRACY, 3),
        (ZIRA, None),
    ],
)
def test_each_platforms_chinese_voices_are_ranked_mandarin_first(
    voice: PlatformVoice, rank: int | None
) -> None:
    assert chinese_rank(voice) == rank


def test_the_best_voice_wins_wherever_it_is_listed() -> None:
    assert best_chinese([ZIRA, SINJI, MEIJIA, TINGTING]) == TINGTING
    assert best_chinese([YUE, CMN]) == CMN
    assert best_chinese([TRACY]) == TRACY  # Cantonese, when it is all there is
    assert best_chinese([ZIRA]) is None
