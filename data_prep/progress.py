"""A progress bar for long preparation work: count, clips per second and time left."""

from __future__ import annotations

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text


class ClipsPerSecond(ProgressColumn):
    def render(self, task: Task) -> Text:
        return Text(f"{task.speed or 0:,.0f} clips/s")


def clip_progress(disable: bool = False) -> Progress:
    """Refreshed in place on a terminal; elsewhere printed once, finished, when it stops."""
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    ClipsPerSecond(), TimeRemainingColumn(), disable=disable)
