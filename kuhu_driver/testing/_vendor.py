"""The vendor's billing rule, as the emulator applies it: stated here again, in other
words than the library's (``_text.billed_chars``, a table of Han code-point ranges), so
that the emulator's bill is an independent check of what the library counts, estimates
and reports. The rule (../shared/api/README.md): a Chinese character bills 2; a letter,
a digit, a punctuation mark (full-width too), a space or any other character bills 1.
Here a Chinese character is one the Unicode database of this Python names a CJK
ideograph.
"""

from __future__ import annotations

import unicodedata

_IDEOGRAPH_NAMES = ("CJK UNIFIED IDEOGRAPH-", "CJK COMPATIBILITY IDEOGRAPH-")


def vendor_billed(text: str) -> int:
    """What the vendor bills for ``text``."""
    return sum(2 if unicodedata.name(ch, "").startswith(_IDEOGRAPH_NAMES) else 1 for ch in text)
