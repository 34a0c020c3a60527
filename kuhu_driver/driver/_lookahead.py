"""What pyttsx3 will ask for next: the utterances waiting in its queue, as the keys
they will be fetched under, so that the driver can fetch them ahead."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from .._model import SAVE_FORMATS, Voicing
from .._text import billed_chars, clean_text
from ..errors import KuhuError
from ..pipeline import RESUMABLE_BILLED, Properties, check_destination

Key = tuple[str, Voicing, str, str]  # text, voicing, API format, markup mode


def queued_utterances(
    pending: Sequence[tuple[Callable[..., Any], tuple[Any, ...]]],
    props: Properties,
    *,
    say: Callable[..., Any],
    save: Callable[..., Any],
    set_property: Callable[..., Any],
) -> Iterator[Key | None]:
    """The say/save_to_file calls in ``pending``, up to its first other command, each
    as the key it will be fetched under (None if it cannot be fetched), with the
    properties the setProperty calls before it give it."""
    for mtd, args in pending:
        if mtd == set_property:
            with contextlib.suppress(KuhuError):  # its own turn reports the error
                props = props.with_value(*args)
        elif mtd == say:
            text = args[0] if args else None
            yield (text, props.voicing(), "pcm", props.markup) if isinstance(text, str) else None
        elif mtd == save:
            text, path = args
            fmt = SAVE_FORMATS.get(Path(str(path)).suffix.lower())
            if (
                isinstance(text, str)
                and fmt is not None
                and not resumable(text)
                and _writable(path)
            ):
                yield (text, props.voicing(), fmt, props.markup)
            else:
                yield None
        else:
            return  # endLoop and the like: nothing after it is certain


def resumable(text: str) -> bool:
    """Whether saving ``text`` keeps its pieces for resuming (see ``start_save``)."""
    try:
        return billed_chars(clean_text(text)) > RESUMABLE_BILLED
    except (TypeError, ValueError):
        return False


def _writable(path: object) -> bool:
    """Whether a queued save_to_file may be fetched ahead: not into a missing folder."""
    try:
        check_destination(str(path))
    except KuhuError:
        return False
    return True
