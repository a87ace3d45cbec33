"""`podium memory` in its own process: the store's commands, their errors, explore, and the
`memory` device kind under `podium up`."""
from __future__ import annotations

import json
import os
import re
import shutil

import pytest

from agents.echotrail.store import MemoryStore
from tests.agents.echotrail.conftest import trajectory
from tests.conftest import fleet_up, podium, supervised

WIDE = {**os.environ, "COLUMNS": "200"}          # rich tables wide enough to keep each intent on one line
STORED = [
    trajectory("Turn Wi-Fi off", "Settings"),
    trajectory("Set an alarm for 7:30 AM", "Clock", steps=[
        {"screen": "clock/Alarms", "action": "click", "target": "Button 'Add alarm'", "effect": "a picker opened"},
        {"screen": "clock/Picker", "action": "input_text", "target": "EditText 'Hour'", "text": "7", "slot": "value"}]),
    trajectory('Create a note titled "[red]Groceries"', "Notes", scores=(0.2, 0.5, 0.5), provenance="explored"),
]


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """A store file holding STORED (ids 1, 2, 3), closed."""
    path = tmp_path_factory.mktemp("cli") / "memory.db"
    with MemoryStore(path) as store:
        for t in STORED:
            store.add(t)
    return path


def memory(db, *args: str) -> tuple[int, str, str]:
    result = podium("memory", "--db", str(db), *args, env=WIDE)
    assert "Traceback" not in result.stderr, result.stderr
    return result.returncode, result.stdout, result.stderr


def test_list_show_search_and_stats(small):
    code, out, _ = memory(small, "list")
    assert code == 0 and "3 of 3 trajectories" in out
    rows = [line for line in out.splitlines() if re.match(r"│\s+\d", line)]
    assert [r.split("│")[2].strip() for r in rows] == [t["intent"] for t in STORED]      # markup left as text
    assert "0.94" in rows[0] and "explored" in rows[2]
    code, out, _ = memory(small, "list", "--app", "Clock")
    assert code == 0 and "1 of 3" in out and "Set an alarm" in out and "Wi-Fi" not in out

    code, out, _ = memory(small, "show", "2")
    assert code == 0 and "Set an alarm for 7:30 AM" in out and "total 0.94" in out
    assert "Button 'Add alarm'" in out and "7 [value]" in out and "clock/Picker" in out

    code, out, _ = memory(small, "search", "Create an alarm at 6:15 PM", "-k", "2")
    hits = [line for line in out.splitlines() if re.match(r"│\s+\d", line)]
    assert code == 0 and "Set an alarm for 7:30 AM" in hits[0] and len(hits) <= 2
    assert re.search(r"│\s+1\s+│\s+2\s+│", hits[0])                                      # rank 1 is id 2

    code, out, _ = memory(small, "stats")
    assert code == 0 and f"{small}: 3 trajectories, schema 3; vectors: 3 by all-MiniLM-L6-v2" in out
    assert re.search(r"explored\s+│\s+Notes\s+│\s+1", out) and re.search(r"task\s+│\s+Clock\s+│\s+1", out)


def test_prune_export_and_an_import_with_bad_lines(small, tmp_path):
    db = tmp_path / "copy.db"
    shutil.copy(small, db)
    assert memory(db, "prune")[0] == 2                                          # nothing said: a usage error
    code, out, _ = memory(db, "prune", "--below", "0.5")
    assert code == 0 and "pruned 1 trajectories (2 left)" in out

    exported = tmp_path / "memory.jsonl"
    code, out, _ = memory(db, "export", str(exported))
    assert code == 0 and f"exported 2 trajectories to {exported}" in out
    lines = exported.read_text().splitlines()
    assert [json.loads(line)["intent"] for line in lines] == ["Turn Wi-Fi off", "Set an alarm for 7:30 AM"]

    mixed = tmp_path / "mixed.jsonl"
    mixed.write_text("\n".join([lines[0], "{oops", json.dumps(dict(STORED[2], steps=[])), lines[1]]) + "\n")
    fresh = tmp_path / "fresh.db"
    code, out, err = memory(fresh, "import", str(mixed))
    assert code == 1 and "added 2 trajectories" in out and "2 bad lines skipped" in out
    assert "line 2: not JSON" in err and "line 3: bad trajectory: steps: List should have at least 1 item" in err
    code, out, _ = memory(fresh, "list")
    assert code == 0 and "2 of 2 trajectories" in out                          # the good lines were kept


def test_errors_are_one_line_naming_the_problem(small, tmp_path):
    missing = tmp_path / "nowhere.db"
    for command in (["list"], ["show", "1"], ["search", "alarm"], ["stats"], ["export", str(tmp_path / "x")]):
        code, _, err = memory(missing, *command)
        assert code == 1 and err.strip() == f"error: no memory store at {missing}: the file does not exist"
    assert not missing.exists()                                                 # reading never creates one
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"not a database at all " * 200)
    code, _, err = memory(garbage, "list")
    assert code == 1 and err.startswith(f"error: {garbage} is not a usable memory store") and err.count("\n") == 1
    code, _, err = memory(small, "show", "99")
    assert code == 1 and err.strip() == f"error: no trajectory 99 in {small}"
    result = podium("memory")                                                   # the daemon needs a file
    assert result.returncode == 2 and "give --db PATH" in result.stderr


def test_explore_one_phone_stores_only_what_the_critic_accepts(tmp_path):
    db = tmp_path / "explored.db"
    code, out, err = memory(db, "explore", "--phones", "1", "--curiosity-steps", "20", "--goals", "2")
    assert code == 0, err
    assert "2 goals pursued on 1 phones" in out
    rows = [line.split("│")[1:-1] for line in out.splitlines() if "sim:phone-eval-0" in line]
    assert len(rows) == 2 and all(r[2].strip() in ("complete", "answered", "infeasible", "step_limit", "failed")
                                  and r[4].strip() in ("accepted", "rejected") for r in rows)
    stored = [r for r in rows if r[5].strip() != "–"]
    assert all(r[4].strip() == "accepted" for r in stored)                      # nothing rejected is stored
    assert f"{len(stored)} stored; the store holds {len(stored)} trajectories" in out
    with MemoryStore(db) as store:
        assert len(store) == len(stored) and all(t.provenance == "explored" for _, t in store)


def test_podium_up_runs_a_memory_entry_that_answers_on_the_bus(tmp_path):
    from agents.echotrail.service import RemoteMemory
    from control.bus.hub import HubClient, wait_for_service

    db = tmp_path / "fleet-memory.db"
    devices = f'[[devices]]\nname = "memory:fleet"\nkind = "memory"\ndb = "{db}"\n'
    with fleet_up(tmp_path, devices, stop_timeout=5) as (hub, state):
        with HubClient(hub) as client:
            record = wait_for_service(client, "memory:fleet", timeout=90)
        assert record["kind"] == "memory" and record["capabilities"]["db"] == str(db)
        with RemoteMemory("memory:fleet", hub=hub, timeout=10) as remote:
            info = remote.stats()
            assert info["trajectories"] == 0 and info["path"] == str(db) and info["embedder"] == "all-MiniLM-L6-v2"
            id_ = remote.add(trajectory("Turn Wi-Fi off", "Settings"))
        result = podium("memory", "--service", "memory:fleet", "--hub", hub, "list", env=WIDE)
        assert result.returncode == 0 and "1 of 1 trajectories" in result.stdout and "Turn Wi-Fi off" in result.stdout
        row = supervised(state)["memory:fleet"]
        assert row["kind"] == "memory" and row["state"] == "running"
    with MemoryStore(db) as store:                                               # the daemon's writes are on disk
        assert store.get(id_).intent == "Turn Wi-Fi off"
