"""What the driver's worker runs (a task per say or save_to_file) and what it tells the
loop's thread (events)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .._cancel import CancelToken
from .._model import Voicing
from ..pipeline import Job


@dataclass(eq=False)
class Task:
    """One say or save_to_file, as the worker runs it."""

    kind: str  # "say" or "save"
    text: object
    name: str | None
    voicing: Voicing
    path: str | None = None
    markup: str = "auto"  # how its markup is read (the engine's "markup" property)
    cancel: CancelToken = field(default_factory=CancelToken)
    job: Job | None = None


@dataclass(frozen=True)
class Event:
    """What the worker posts to the loop's thread about a task."""

    task: Task
    topic: str | None  # None: the task is done
    args: dict[str, Any]
