"""`podium eval gui --memory on` end to end on a few templates: the split is fixed by its seed and
written into the report, nothing evaluated was ever stored (no held-out template, no evaluated
goal), both conditions run the same instances, and the critic is measured against the simulator."""
from __future__ import annotations

import json

from agents.echotrail.store import MemoryStore
from tests.conftest import podium

TEMPLATES = ["SettingsDarkTheme", "ClockStartStopwatch", "SettingsWifi", "NotesCreate", "ContactsAddContact"]


def test_memory_on_and_off_on_held_out_instances(tmp_path):
    run = tmp_path / "run"
    only = [arg for name in TEMPLATES for arg in ("--only", name)]
    result = podium("eval", "gui", "--memory", "on", *only, "--seeds", "1", "--daemons", "1",
                    "--curiosity-steps", "10", "--explore-goals", "1", "--run-dir", str(run), "--no-pages",
                    timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads((run / "memory-report.json").read_text())
    split = report["split"]
    assert sorted(split["held_in_templates"] + split["held_out_templates"]) == sorted(TEMPLATES)
    assert split["held_out_templates"] and split["evaluation_seeds"] == [1000]
    assert set(report["conditions"]) == {"off", "on"}
    for condition in report["conditions"].values():
        assert condition["all"]["episodes"] == len(TEMPLATES)
        assert condition["held_out_templates"]["episodes"] == len(split["held_out_templates"])
    critic = report["critic"]
    assert critic["episodes"] >= len(split["held_in_templates"]) * 3        # every training instance, judged
    assert critic["true_positives"] + critic["false_positives"] == critic["accepted"]

    episodes = [json.loads(p.read_text()) for p in (run / "episodes").glob("eval-*/meta.json")]
    evaluated = {meta["goal"] for meta in episodes}
    assert len(episodes) == 2 * len(evaluated) == 2 * len(TEMPLATES)         # off and on, the same instances
    stored = [t for _, t in MemoryStore(run / "memory.db")]
    assert stored and report["stores"]["main"]["trajectories"] == len(stored)
    for trajectory in stored:
        assert trajectory.intent not in evaluated
        assert not trajectory.source.startswith(tuple(split["held_out_templates"]))
    assert (run / "memory.png").read_bytes()[:4] == b"\x89PNG"
    assert "held-out templates" in (run / "memory-report.md").read_text()

    again = podium("eval", "gui", "--memory", "off", *only, "--seeds", "1", "--daemons", "1",
                   "--run-dir", str(tmp_path / "again"), "--no-pages", timeout=600)
    assert again.returncode == 0, again.stderr[-2000:]
    assert json.loads((tmp_path / "again" / "memory-report.json").read_text())["split"] == split   # fixed by seed


def test_memory_takes_templates_not_a_task_file(tmp_path):
    tasks = tmp_path / "tasks.toml"
    tasks.write_text('[[tasks]]\ntemplate = "SettingsWifi"\n')
    result = podium("eval", "gui", "--memory", "on", "--tasks", str(tasks), "--run-dir", str(tmp_path / "run"))
    assert result.returncode == 1 and "not a task file" in result.stderr
    assert "Traceback" not in result.stderr
