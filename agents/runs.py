"""Run directories, shared by every trainer and evaluator under `agents/`: crash-safe writes, one
CSV progress log per run, and the plots people look at (curves over a run, bars per group).

Symphony's training, the SB3 baselines and the GUI agent's evaluation all write here the same way,
so `podium plot` and a spreadsheet read any of them.
"""
from __future__ import annotations

import csv
import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any


def atomic_write(path: Path, write: Callable[[Path], object]) -> None:
    """Write through a temporary file and rename it into place: a crash leaves the old file or
    the new one, never half of either."""
    tmp = path.with_name(path.name + ".tmp")
    write(tmp)
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)


class ProgressLog:
    """RUN_DIR/<name>: one CSV row per evaluation (or episode), with fixed columns."""

    def __init__(self, run_dir: str | Path, fields: Sequence[str], name: str = "progress.csv") -> None:
        self.path = Path(run_dir) / name
        self.fields = tuple(fields)

    def append(self, row: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        new = not self.path.exists()
        with open(self.path, "a", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=self.fields, extrasaction="ignore")
            if new:
                writer.writeheader()
            writer.writerow(row)

    def rows(self) -> list[dict[str, str]]:
        """The complete rows: a last line without its newline (the process was killed while
        writing it) is left out, and so dropped by `keep` when a run resumes."""
        if not self.path.exists():
            return []
        with open(self.path, newline="") as f:
            text = f.read()
        if text and not text.endswith("\n"):
            text = text[: text.rfind("\n") + 1]
        return list(csv.DictReader(text.splitlines(keepends=True)))

    def keep(self, wanted: Callable[[dict[str, str]], bool]) -> None:
        """Drop the rows `wanted` refuses (a resumed run writes them again)."""
        rows = [r for r in self.rows() if wanted(r)]

        def write(tmp: Path) -> None:
            with open(tmp, "w", newline="") as f:
                writer = csv.DictWriter(f, fieldnames=self.fields)
                writer.writeheader()
                writer.writerows(rows)
        if self.path.exists():
            atomic_write(self.path, write)


def _pyplot() -> Any:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def plot_curves(curves: Iterable[tuple[str, Sequence[float], Sequence[float]]], out: Path, *, xlabel: str,
                ylabel: str) -> Path | None:
    """Lines (label, xs, ys) in one PNG; None when there is nothing to draw."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    drawn = 0
    for label, xs, ys in curves:
        if len(xs):
            ax.plot(xs, ys, marker="o", markersize=3, label=label)
            drawn += 1
    if not drawn:
        plt.close(fig)
        return None
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out


def plot_bars(groups: Sequence[str], series: dict[str, Sequence[float]], out: Path, *, ylabel: str,
              title: str = "", ymax: float | None = None) -> Path:
    """Grouped bars: one group per entry of `groups`, one bar per series in each (e.g. success
    rate per difficulty, memory on and off)."""
    plt = _pyplot()
    # about 0.45 inch a bar, capped so that many series make a readable figure, not a banner
    fig, ax = plt.subplots(figsize=(min(14, max(6, 0.45 * len(groups) * max(1, len(series)) + 1.5)), 4.5))
    width = 0.8 / max(1, len(series))
    for i, (label, values) in enumerate(series.items()):
        xs = [g + (i - (len(series) - 1) / 2) * width for g in range(len(groups))]
        bars = ax.bar(xs, values, width, label=label)
        ax.bar_label(bars, labels=[f"{v:.0%}" if ymax == 1 else f"{v:.2g}" for v in values], fontsize=8)
    ax.set_xticks(range(len(groups)), groups)
    ax.set_ylabel(ylabel)
    if ymax is not None:
        ax.set_ylim(0, ymax * 1.1)
    if title:
        ax.set_title(title)
    ax.grid(axis="y", alpha=0.3)
    if len(series) > 1:
        ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out
