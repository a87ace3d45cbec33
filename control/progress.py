"""Rich progress bars with rates, shared by every long-running podium command."""
from __future__ import annotations

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text


class RateColumn(ProgressColumn):
    """Items per second, e.g. '1,234 calls/s'."""

    def __init__(self, unit: str = "it") -> None:
        super().__init__()
        self.unit = unit

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        if speed is None:
            return Text("--", style="progress.data.speed")
        shown = f"{speed:,.0f}" if speed >= 10 else f"{speed:.2f}"     # slow work (episodes) needs decimals
        return Text(f"{shown} {self.unit}/s", style="progress.data.speed")


def progress_bar(console: Console | None = None, unit: str = "it", transient: bool = False) -> Progress:
    """A progress bar showing count, rate, elapsed and remaining time."""
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    RateColumn(unit), TimeElapsedColumn(), TimeRemainingColumn(),
                    console=console, transient=transient)
