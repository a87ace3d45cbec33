"""Episodes on disk, and the pages that show them.

    RUN/episodes/<id>/meta.json      goal, backend, prompt version, config, outcome (and the verdict
                                     of whoever judged it, e.g. the task suite)
    RUN/episodes/<id>/steps.jsonl    one line per step: what the agent saw, asked, got, did, changed
    RUN/episodes/<id>/screens/       a small JPEG of the screen before each step, and the final one

`write_pages(RUN)` (`podium episodes show RUN`) turns them into one self-contained HTML page per
episode (screenshots inline, the tap point or swipe drawn over each) and RUN/index.html.
"""
from __future__ import annotations

import base64
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from agents.gui.agent import EpisodeResult, Step
from agents.runs import atomic_write
from control.errors import PodiumError

SHOT_WIDTH = 360        # screenshots are kept this wide: enough to read, small enough to embed


class EpisodeError(PodiumError):
    """A run or episode folder is missing or unreadable; the message names the file."""


class EpisodeRecorder:
    """Records one episode as it runs (the agent calls `step` and `finish`); `judge` adds the
    verdict afterwards. Every write lands whole, so a crash mid-run leaves a readable record."""

    def __init__(self, directory: str | Path, meta: dict[str, Any]) -> None:
        self.dir = Path(directory)
        (self.dir / "screens").mkdir(parents=True, exist_ok=True)
        self.meta = dict(meta)
        self._write_meta()
        self.steps_path = self.dir / "steps.jsonl"
        self.steps_path.write_text("")

    def step(self, step: Step, screenshot: np.ndarray) -> None:
        name = f"screens/{step.step:03d}.jpg"
        _save_jpeg(screenshot, self.dir / name)
        with self.steps_path.open("a") as f:
            f.write(json.dumps({**asdict(step), "screenshot": name}) + "\n")

    def finish(self, result: EpisodeResult, screenshot: np.ndarray) -> None:
        _save_jpeg(screenshot, self.dir / "screens/final.jpg")
        self.meta.update(status=result.status, answer=result.answer, actions=result.actions,
                         seconds=round(result.seconds, 3), final_screenshot="screens/final.jpg")
        self._write_meta()

    def judge(self, **verdict: Any) -> None:
        self.meta.update(verdict)
        self._write_meta()

    def _write_meta(self) -> None:
        atomic_write(self.dir / "meta.json", lambda tmp: tmp.write_text(json.dumps(self.meta, indent=1)))


def _save_jpeg(screenshot: np.ndarray, path: Path) -> None:
    from PIL import Image

    image = Image.fromarray(np.asarray(screenshot)).convert("RGB")
    if image.width > SHOT_WIDTH:
        image = image.resize((SHOT_WIDTH, round(image.height * SHOT_WIDTH / image.width)), Image.Resampling.LANCZOS)
    image.save(path, format="JPEG", quality=80)


# -- reading ---------------------------------------------------------------------------------------
def load_episode(directory: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(meta, steps) of one episode folder; a torn last line (a crash mid-write) is skipped."""
    try:
        meta = json.loads((directory / "meta.json").read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise EpisodeError(f"{directory / 'meta.json'}: {exc}") from exc
    steps = []
    path = directory / "steps.jsonl"
    lines = path.read_text().splitlines() if path.exists() else []
    for number, line in enumerate(lines, 1):
        try:
            steps.append(json.loads(line))
        except json.JSONDecodeError as exc:
            if number < len(lines):
                raise EpisodeError(f"{path}, line {number}: {exc}") from exc
    return meta, steps


def episode_dirs(run: Path) -> list[Path]:
    root = Path(run) / "episodes"
    if not root.is_dir():
        raise EpisodeError(f"{run} holds no episodes (no {root} folder): give a run folder of `podium eval gui`")
    return sorted(d for d in root.iterdir() if (d / "meta.json").is_file())


# -- pages -----------------------------------------------------------------------------------------
def write_pages(run: str | Path) -> Path:
    """One HTML page per episode beside its record, and RUN/index.html linking them. Returns the index."""
    run = Path(run)
    env = _templates()
    rows = []
    for directory in episode_dirs(run):
        meta, steps = load_episode(directory)
        page = directory / "episode.html"
        html = env.get_template("episode.html").render(meta=meta, steps=[_view(directory, s) for s in steps],
                                                       final=_data_url(directory / meta.get("final_screenshot", "")))
        atomic_write(page, lambda tmp, html=html: tmp.write_text(html))
        rows.append({**meta, "id": directory.name, "href": f"episodes/{directory.name}/episode.html",
                     "steps": len(steps)})
    report = _read_json(run / "report.json")
    index = run / "index.html"
    html = env.get_template("index.html").render(run=run.name, rows=rows, report=report)
    atomic_write(index, lambda tmp: tmp.write_text(html))
    return index


def _view(directory: Path, step: dict[str, Any]) -> dict[str, Any]:
    """A step as the page shows it: the screenshot inline and the gesture in screen pixels."""
    width, height = step.get("screen_size") or (1080, 2400)
    return {**step, "image": _data_url(directory / step.get("screenshot", "")), "width": width, "height": height,
            "action_json": json.dumps(step.get("action")) if step.get("action") else ""}


def _data_url(path: Path) -> str:
    if not path.is_file():
        return ""
    return "data:image/jpeg;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def _templates():
    from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

    return Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"),
                       autoescape=select_autoescape(["html"]), undefined=StrictUndefined)
