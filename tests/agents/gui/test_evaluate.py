"""`podium eval gui` and the evaluation behind it: the suite through the bus on parallel phone
daemons, the report, infeasible tasks scored right, a phone daemon killed mid-run."""
from __future__ import annotations

import json
import threading

import pytest
from rich.console import Console

from agents.gui.evaluate import EvalConfig, EvalError, Evaluation
from control.bus.hub import HubClient, wait_for_service
from tests.conftest import podium, wait_until

INFEASIBLE = '{"action_type": "status", "goal_status": "infeasible"}'
COMPLETE = '{"action_type": "status", "goal_status": "complete"}'


def test_the_report_gives_success_and_steps_per_difficulty_and_template(evaluated):
    report = json.loads((evaluated / "report.json").read_text())
    assert report["episodes"] == 6 and report["backend"] == "offline" and report["not_run"] == 0
    assert set(report["by_template"]) == {"SettingsWifi", "SettingsBatteryAnswer", "ContactsDeleteMissingInfeasible"}
    assert sum(row["episodes"] for row in report["by_difficulty"].values()) == 6
    assert {r["device"] for r in report["results"]} == {"sim:phone-eval-0", "sim:phone-eval-1"}   # in parallel
    for name, row in report["by_template"].items():
        wins = [r for r in report["results"] if r["template"] == name and r["success"]]
        assert row["successes"] == len(wins)
        if wins:
            assert row["mean_steps"] == pytest.approx(sum(r["steps"] for r in wins) / len(wins), abs=0.01)
            assert row["mean_optimal"] == pytest.approx(sum(r["optimal"] for r in wins) / len(wins), abs=0.01)
    rate = sum(r["success"] for r in report["results"]) / 6
    assert report["success_rate"] == pytest.approx(rate, abs=1e-3)
    table = (evaluated / "report.md").read_text()
    assert "| difficulty | episodes | success |" in table and "| SettingsWifi (easy) | 2 |" in table
    assert (evaluated / "success.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len((evaluated / "progress.csv").read_text().splitlines()) == 7


def test_every_episode_is_recorded(evaluated):
    folders = sorted((evaluated / "episodes").iterdir())
    assert len(folders) == 6
    for folder in folders:
        meta = json.loads((folder / "meta.json").read_text())
        steps = [json.loads(line) for line in (folder / "steps.jsonl").read_text().splitlines()]
        assert len(steps) == meta["actions"] >= 1 and isinstance(meta["success"], bool)
        assert meta["prompt_version"] and meta["backend"] == "offline"
        for step in steps:
            assert (folder / step["screenshot"]).stat().st_size > 1000
            assert {"raw", "action", "summary", "prompt_tokens", "seconds"} <= set(step)


def test_the_offline_agent_solves_an_easy_task_through_the_bus(evaluated):
    report = json.loads((evaluated / "report.json").read_text())
    wifi = [r for r in report["results"] if r["template"] == "SettingsWifi"]
    assert all(r["success"] for r in wifi) and all(r["steps"] <= 8 for r in wifi)


def _evaluate(tmp_path, replies, *, only, scripted, **config):
    backend = scripted(replies, then=replies[-1])
    cfg = EvalConfig(only=only, daemons=1, max_steps=3, run_dir=str(tmp_path / "run"), **config)
    return Evaluation(cfg, backend=backend, console=Console(file=open("/dev/null", "w"))).run()


def test_infeasible_tasks_count_only_when_declared_infeasible(tmp_path, scripted):
    declared = _evaluate(tmp_path / "a", [INFEASIBLE], only=["SettingsNfcInfeasible", "SettingsWifi"],
                         scripted=scripted)
    outcome = {r["template"]: r["success"] for r in declared["results"]}
    assert outcome == {"SettingsNfcInfeasible": True, "SettingsWifi": False}   # giving up on a doable task fails
    claimed = _evaluate(tmp_path / "b", [COMPLETE], only=["SettingsNfcInfeasible"], scripted=scripted)
    assert claimed["results"][0]["success"] is False                         # "done" on an impossible task fails


def test_a_task_file_is_evaluated_and_a_bad_one_is_refused(tmp_path, scripted):
    tasks = tmp_path / "tasks.toml"
    tasks.write_text('[[tasks]]\ntemplate = "SettingsNfcInfeasible"\ngoal = "Please enable NFC."\n')
    report = _evaluate(tmp_path, [INFEASIBLE], only=[], scripted=scripted, tasks_file=str(tasks))
    assert report["episodes"] == 1 and report["results"][0]["success"]
    meta = json.loads(next((tmp_path / "run" / "episodes").iterdir()).joinpath("meta.json").read_text())
    assert meta["goal"] == "Please enable NFC."
    tasks.write_text('[[tasks]]\ntemplate = "NoSuchTask"\n')
    with pytest.raises(EvalError, match="NoSuchTask"):
        _evaluate(tmp_path, [INFEASIBLE], only=[], scripted=scripted, tasks_file=str(tasks))


def test_bad_options_are_one_clear_line(tmp_path):
    result = podium("eval", "gui", "--only", "Settings*", "--only", "Nope*", "--daemons", "1",
                    "--run-dir", str(tmp_path / "r"))
    assert result.returncode == 1 and "no template matches 'Nope*'" in result.stderr
    assert "Traceback" not in result.stderr
    result = podium("eval", "gui", "--backend", "transformers")
    assert result.returncode == 1 and "needs --model PATH" in result.stderr


def test_a_phone_daemon_killed_mid_run_loses_no_episode(tmp_path, hub, processes):
    names = ["sim:phone-a", "sim:phone-b"]
    procs = [processes.podium("sim", "phone", "--name", name, "--hub", hub.endpoint) for name in names]
    with HubClient(hub.endpoint) as client:
        for name in names:
            wait_for_service(client, name, timeout=60)
    config = EvalConfig(only=["Settings*"], daemons=2, max_steps=10, hub=hub.endpoint, devices=names,
                        call_timeout=3, run_dir=str(tmp_path / "run"))
    progress = tmp_path / "run" / "progress.csv"

    def kill_b_after_the_first_episode():
        wait_until(lambda: progress.exists() and len(progress.read_text().splitlines()) >= 2, timeout=120)
        processes.kill(procs[1])

    killer = threading.Thread(target=kill_b_after_the_first_episode)
    killer.start()
    log = tmp_path / "console.txt"
    with open(log, "w") as out:
        report = Evaluation(config, console=Console(file=out, width=200)).run()
    killer.join()
    templates = 10
    assert report["episodes"] == templates and report["not_run"] == 0
    assert sorted(r["template"] for r in report["results"]) == sorted(report["by_template"])
    assert "phone daemon sim:phone-b failed" in log.read_text()
    assert procs[0].poll() is None                                 # the survivor is still serving
