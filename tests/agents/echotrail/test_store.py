"""The trajectory store: what it keeps, what it finds, and what survives writers in several
processes, a writer killed mid-transaction, an old schema and files that are not stores."""
from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time

import numpy as np
import pytest

from agents.echotrail.store import MemoryStore, StoreError, _uid, export_jsonl, import_jsonl
from agents.echotrail.trajectory import Trajectory, TrajectoryError
from agents.gui.goal import goal_key
from tests.agents.echotrail.conftest import trajectory
from tests.conftest import REPO

WIFI = trajectory("Turn Wi-Fi off", "Settings")
ALARM = trajectory("Set an alarm for 7:30 AM", "Clock", steps=[
    {"screen": "clock/Alarms", "action": "click", "target": "Button 'Add alarm'", "effect": "a time picker opened"},
    {"screen": "clock/Picker", "action": "input_text", "target": "EditText 'Hour'", "text": "7", "slot": "value"},
    {"screen": "clock/Picker", "action": "click", "target": "Button 'OK'", "effect": "the alarm was added"}])
NOTE = trajectory('Create a note titled "Groceries"', "Notes", scores=(0.2, 0.5, 0.5), provenance="explored")


def consistent(path) -> tuple[int, int]:
    """(trajectories, goal keys) of a store file, after SQLite's own checks pass, the key index
    matches the keys, every trajectory has its intent's key and every key has a trajectory."""
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        db.execute("INSERT INTO goal_keys_fts(goal_keys_fts) VALUES('integrity-check')")   # raises if not
        rows = db.execute("SELECT t.intent, k.key FROM trajectories t LEFT JOIN goal_keys k ON k.id = t.key_id")\
            .fetchall()
        assert [key for _, key in rows] == [goal_key(intent) for intent, _ in rows]
        assert db.execute("SELECT count(*) FROM goal_keys WHERE id NOT IN (SELECT key_id FROM trajectories)")\
            .fetchone() == (0,)
        return len(rows), db.execute("SELECT count(*) FROM goal_keys").fetchone()[0]


def test_add_get_list_and_an_identical_trajectory_stored_once(store):
    first = store.add(WIFI)
    assert store.add(dict(WIFI, created=time.time() + 60)) == first      # same content, later: same id
    second = store.add(Trajectory.parse(ALARM))
    assert second != first and len(store) == 2
    assert store.get(second) == Trajectory.parse(dict(ALARM, created=store.get(second).created))
    assert store.get(second).steps[1].slot == "value"
    assert [(i, t.intent) for i, t in store.list()] == [(first, "Turn Wi-Fi off"), (second, ALARM["intent"])]
    assert [t.intent for _, t in store.list(app="Clock")] == [ALARM["intent"]]
    assert store.list(provenance="explored") == []
    with pytest.raises(KeyError, match=f"no trajectory 99 in {store.path}"):
        store.get(99)
    with pytest.raises(TrajectoryError, match="steps"):
        store.add(dict(WIFI, steps=[]))
    assert len(store) == 2


def test_search_finds_the_right_one_filters_by_app_and_drops_the_unrelated(store):
    ids = {t["intent"]: store.add(t) for t in (WIFI, ALARM, NOTE)}
    hits = store.search("Create an alarm at 6:15 PM")
    assert hits[0].id == ids[ALARM["intent"]] and hits[0].semantic > 0.8
    assert [h.id for h in store.search("Switch the Wi-Fi off", k=1)] == [ids["Turn Wi-Fi off"]]
    assert store.search("Set an alarm for 6:15 PM", app="Settings") == []          # the alarm is in Clock
    assert [h.id for h in store.search("Set an alarm for 6:15 PM", app="Clock")] == [ids[ALARM["intent"]]]
    assert store.search("What is the capital of Peru?") == []                     # below both floors
    assert [h.trajectory.intent for h in store.search("note titled Shopping", mode="lexical")] == [NOTE["intent"]]
    with pytest.raises(ValueError, match="mode"):
        store.search("alarm", mode="fuzzy")


def test_prune_by_score_age_and_number_per_intent(store):
    store.add(WIFI)
    store.add(NOTE)                                                               # total 0.32
    old = store.add(trajectory("Turn Wi-Fi off", "Settings", scores=(1, 0.5, 0.5), created=time.time() - 40 * 86400))
    store.search("Wi-Fi")                                                         # vectors loaded before the prune
    assert store.prune(below=0.5) == 1 and len(store) == 2
    assert store.prune(older_than_days=30) == 1 and [t.intent for _, t in store.list()] == ["Turn Wi-Fi off"]
    assert old not in [h.id for h in store.search("Turn Wi-Fi off")]               # the search forgot it too
    store.add(trajectory("Turn Wi-Fi off", "Settings", scores=(1, 0.2, 0.2)))
    assert store.prune(keep_per_intent=1) == 1
    assert [t.scores.total for _, t in store.list()] == [0.94]                   # the better one stayed
    assert consistent(store.path) == (1, 1)


def test_export_then_import_into_a_fresh_store_round_trips(store, tmp_path):
    for t in (WIFI, ALARM, NOTE):
        store.add(t)
    out = tmp_path / "memory.jsonl"
    assert store.export(out) == 3 and len(out.read_text().splitlines()) == 3
    with MemoryStore(tmp_path / "fresh.db") as fresh:
        assert fresh.import_file(out) == (3, [])
        assert [t for _, t in fresh.list()] == [t for _, t in store.list()]        # created kept, every field
        assert fresh.import_file(out) == (3, []) and len(fresh) == 3              # again: nothing new
        assert fresh.search("Create an alarm at 6:15 PM")[0].trajectory.intent == ALARM["intent"]


def test_import_keeps_the_good_lines_and_names_the_bad_ones(store, tmp_path):
    lines = [json.dumps(WIFI), "{not json", json.dumps(dict(ALARM, color="red")), "", json.dumps([1, 2]),
             json.dumps(dict(NOTE, steps=[{"screen": "s"}])), json.dumps(NOTE)]
    path = tmp_path / "mixed.jsonl"
    path.write_bytes("\n".join(lines).encode() + b"\n\xff\xfe broken bytes\n")
    added, problems = import_jsonl(store, path)
    assert added == 2 and [t.intent for _, t in store.list()] == [WIFI["intent"], NOTE["intent"]]
    assert [p.split(":")[0] for p in problems] == ["line 2", "line 3", "line 5", "line 6", "line 8"]
    assert "not JSON" in problems[0] and "color: Extra inputs are not permitted" in problems[1]
    assert "steps.0.action: Field required" in problems[3] and "not UTF-8" in problems[4]


def test_export_leaves_no_half_written_file_when_reading_fails(tmp_path):
    class Failing:
        def list(self, limit, offset):
            if offset:
                raise StoreError("the disk went away")
            return [(1, Trajectory.parse(WIFI))] * limit

    target = tmp_path / "out.jsonl"
    target.write_text("the previous export\n")
    with pytest.raises(StoreError):
        export_jsonl(Failing(), target, batch=2)
    assert target.read_text() == "the previous export\n" and [p.name for p in tmp_path.iterdir()] == ["out.jsonl"]


def writer(db, count: int, tag: str, hang: int = 0) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "tests.agents.echotrail.writer", str(db), str(count), tag,
                             str(hang)], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def acked(lines: list[str]) -> dict[int, str]:
    return {int(line.split()[1]): line.split(" ", 2)[2] for line in lines if line.startswith("acked ")}


def test_writers_in_four_processes_lose_nothing_and_keep_the_index_consistent(tmp_path, lexical):
    db = tmp_path / "shared.db"
    procs = [writer(db, 20, f"w{n}") for n in range(4)]
    outputs = [proc.communicate(timeout=90) for proc in procs]
    assert [proc.returncode for proc in procs] == [0] * 4, [err[-800:] for _, err in outputs]
    ids: dict[int, str] = {}
    for out, _ in outputs:
        mine = acked(out.splitlines())
        assert len(mine) == 20 and not set(mine) & set(ids)                   # ids unique across processes
        ids.update(mine)
    assert consistent(db) == (80, 80)
    with MemoryStore(db, embedder=lexical) as store:
        assert {i: t.intent for i, t in store} == ids                          # every acknowledged add, as written
        assert store.search("Write note w3 7", mode="lexical", k=1)[0].trajectory.intent == "Write note w3 7"


def test_a_writer_killed_mid_transaction_leaves_exactly_what_it_acknowledged(tmp_path, lexical):
    db = tmp_path / "killed.db"
    proc = writer(db, 5, "k", hang=200)
    lines = []
    for line in proc.stdout:                    # read until the child is inside its open transaction
        lines.append(line.strip())
        if line.strip() == "in-transaction":
            break
    assert lines[-1] == "in-transaction", proc.stderr.read()[-800:]
    wal = db.with_name(db.name + "-wal")
    assert wal.stat().st_size > 1_000_000          # uncommitted pages reached the WAL: recovery has work to do
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    proc.stdout.close()
    proc.stderr.close()
    before = acked(lines)
    assert len(before) == 5
    with MemoryStore(db, embedder=lexical) as store:
        assert {i: t.intent for i, t in store} == before          # the acknowledged five, no uncommitted one
        assert store.search("Uncommitted", mode="lexical") == []
        assert store.search("Write note k 2", mode="lexical", k=1)[0].trajectory.intent == "Write note k 2"
        new = store.add(trajectory("Write note after the kill", "Notes"))      # no stale lock
        assert store.get(new).intent == "Write note after the kill"
    assert consistent(db) == (6, 6)


V1_SCHEMA = """
CREATE TABLE trajectories (id INTEGER PRIMARY KEY, uid TEXT NOT NULL UNIQUE, intent TEXT NOT NULL,
    app TEXT NOT NULL DEFAULT '', steps TEXT NOT NULL, outcome TEXT NOT NULL, scores TEXT NOT NULL,
    provenance TEXT NOT NULL, created REAL NOT NULL, embedding TEXT NOT NULL, embedder TEXT NOT NULL);
CREATE INDEX trajectories_app ON trajectories(app);
PRAGMA user_version = 1;
"""


def test_a_v1_store_is_migrated_with_every_row_and_searchable(tmp_path):
    from agents.embed import shared_embedder
    from agents.gui.goal import goal_key

    embedder = shared_embedder()
    old = [WIFI, ALARM, NOTE, trajectory("Delete the contact Grace Hopper", "Contacts", outcome="complete")]
    path = tmp_path / "v1.db"
    with sqlite3.connect(path) as db:
        db.executescript(V1_SCHEMA)
        for n, t in enumerate(old, start=3):                       # ids that do not start at 1
            vector = embedder.encode([goal_key(t["intent"])])[0]
            db.execute("INSERT INTO trajectories VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                       (n, f"v1-{n}", t["intent"], t["app"], json.dumps(t["steps"]), t["outcome"],
                        json.dumps(t["scores"]), t["provenance"], 1_700_000_000.0 + n,
                        json.dumps([float(x) for x in vector]), embedder.name))
    with MemoryStore(path) as store:
        assert [(i, t.intent, t.created) for i, t in store] == \
            [(n, t["intent"], 1_700_000_000.0 + n) for n, t in enumerate(old, start=3)]
        assert store.get(4).steps[1].slot == "value" and store.get(4).answer is None
        assert [h.id for h in store.search("Create an alarm at 6:15 PM", mode="semantic", k=1)] == [4]
        assert [h.id for h in store.search("Remove the contact Alan Turing", mode="lexical", k=1)] == [6]
        assert [h.id for h in store.search("Switch the Wi-Fi off", k=1)] == [3]
        assert store.add(dict(WIFI, created=5.0)) == 3                 # uid recomputed: a re-add stores nothing
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (3,)
        assert db.execute("SELECT DISTINCT typeof(embedding) FROM trajectories").fetchall() == [("blob",)]
        assert "trajectories_app" in [r[1] for r in db.execute("PRAGMA index_list(trajectories)")]
        assert db.execute("SELECT name FROM sqlite_master WHERE name = 'trajectories_v1'").fetchall() == []
    assert consistent(path) == (4, 4)


def test_a_v1_row_that_cannot_be_migrated_is_named_and_the_file_is_left_at_v1(tmp_path):
    path = tmp_path / "v1-bad.db"
    with sqlite3.connect(path) as db:
        db.executescript(V1_SCHEMA)
        db.execute("INSERT INTO trajectories VALUES (7, 'u', 'Turn Wi-Fi off', '', '[]', 'complete', "
                   "'{\"completion\": 1, \"coherence\": 1, \"efficiency\": 1}', 'task', 1.0, '[0.1]', 'x')")
    with pytest.raises(StoreError, match=r"trajectory 7 cannot be migrated from schema 1: .*steps"):
        MemoryStore(path)
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (1,)
        assert db.execute("SELECT count(*) FROM trajectories").fetchone() == (1,)


V2_SCHEMA = """
CREATE TABLE trajectories (id INTEGER PRIMARY KEY, uid TEXT NOT NULL UNIQUE, intent TEXT NOT NULL,
    app TEXT NOT NULL DEFAULT '', steps TEXT NOT NULL, outcome TEXT NOT NULL, answer TEXT, scores TEXT NOT NULL,
    provenance TEXT NOT NULL, source TEXT NOT NULL DEFAULT '', created REAL NOT NULL, embedding BLOB NOT NULL,
    embedder TEXT NOT NULL);
CREATE INDEX trajectories_app ON trajectories(app);
CREATE VIRTUAL TABLE trajectories_fts USING fts5(intent, body, tokenize='porter unicode61');
CREATE TRIGGER trajectories_gone AFTER DELETE ON trajectories BEGIN
    DELETE FROM trajectories_fts WHERE rowid = old.id;
END;
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT INTO meta VALUES ('deletes', '2');
PRAGMA user_version = 2;
"""


def test_a_v2_store_is_migrated_to_goal_keys_with_every_row_found(tmp_path, lexical):
    old = [WIFI, ALARM, NOTE, trajectory("Turn Wi-Fi off", "Settings", scores=(1, 0.5, 0.5)),       # one key
           trajectory('Create a note titled "Packing"', "Notes"),                              # NOTE's key
           trajectory("Delete the contact Grace Hopper", "Contacts", answer=None, source="explorer/sim:phone-0")]
    path = tmp_path / "v2.db"
    with sqlite3.connect(path) as db:
        db.executescript(V2_SCHEMA)
        for n, t in enumerate(old, start=5):
            parsed = Trajectory.parse(t)
            db.execute("INSERT INTO trajectories VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                       (n, _uid(parsed.model_dump_json(exclude={"created"})), parsed.intent, parsed.app,
                        json.dumps([s.model_dump() for s in parsed.steps]), parsed.outcome, parsed.answer,
                        parsed.scores.model_dump_json(), parsed.provenance, parsed.source, 1_750_000_000.0 + n,
                        lexical.encode([goal_key(parsed.intent)])[0].tobytes(), lexical.name))
            db.execute("INSERT INTO trajectories_fts (rowid, intent, body) VALUES (?,?,?)",
                       (n, goal_key(parsed.intent), parsed.text()))
    with MemoryStore(path, embedder=lexical) as store:
        assert store.stats()["schema"] == 3
        assert [(i, t.intent, t.created) for i, t in store] == \
            [(n, t["intent"], 1_750_000_000.0 + n) for n, t in enumerate(old, start=5)]
        for n, t in enumerate(old, start=5):
            assert n in [h.id for h in store.search(t["intent"], mode="lexical", k=len(old))], t["intent"]
        assert [h.id for h in store.search("Remove the contact Alan Turing", mode="lexical", k=1)] == [10]
        assert store.add(dict(NOTE, created=5.0)) == 7 and len(store) == len(old)      # stored once
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (3,)
        assert db.execute("SELECT name FROM sqlite_master WHERE name LIKE 'trajectories_fts%' "
                          "OR name = 'trajectories_gone'").fetchall() == []
        assert "trajectories_key" in [r[1] for r in db.execute("PRAGMA index_list(trajectories)")]
    assert consistent(path) == (6, 4)


def test_a_goal_key_goes_with_its_last_trajectory(store):
    first = store.add(NOTE)
    second = store.add(trajectory('Create a note titled "Packing"', "Notes"))
    wifi = store.add(WIFI)
    assert consistent(store.path) == (3, 2)
    assert store.delete([first]) == 1 and consistent(store.path) == (2, 2)      # "Packing" still has the key
    assert store.delete([second, wifi]) == 2 and consistent(store.path) == (0, 0)
    assert store.search('Create a note titled "Ideas"', mode="lexical") == []
    again = store.add(NOTE)
    assert [h.id for h in store.search('Create a note titled "Ideas"', mode="lexical")] == [again]


def refused(path, match: str) -> None:
    """Opening `path` fails with StoreError naming it and `match`; the file's bytes are unchanged."""
    before = path.read_bytes()
    with pytest.raises(StoreError, match=match) as caught:
        MemoryStore(path)
    assert str(path) in str(caught.value)
    assert path.read_bytes() == before


def test_garbage_bytes_are_not_a_store(tmp_path):
    path = tmp_path / "garbage.db"
    path.write_bytes(np.random.default_rng(0).bytes(64 * 1024))
    refused(path, "not a usable memory store: file is not a database")


def test_a_store_overwritten_in_the_middle_is_refused_untouched(tmp_path, lexical):
    path = tmp_path / "damaged.db"
    with MemoryStore(path, embedder=lexical) as store:
        for n in range(60):
            store.add(trajectory(f"Write note {n}", "Notes", steps=[
                {"screen": "notes/Main", "action": "click", "target": "Button 'New'", "effect": "y" * 900}] * 4))
    data = bytearray(path.read_bytes())
    page = 4096
    assert len(data) > 20 * page
    middle = len(data) // page // 2 * page
    data[middle:middle + 3 * page] = np.random.default_rng(1).bytes(3 * page)
    path.write_bytes(bytes(data))
    refused(path, "damaged|malformed")


def test_a_newer_schema_is_refused_naming_the_version(tmp_path):
    path = tmp_path / "future.db"
    with sqlite3.connect(path) as db:
        db.executescript("CREATE TABLE trajectories (id INTEGER PRIMARY KEY, hologram BLOB); PRAGMA user_version=99;")
    refused(path, "schema version 99; this podium reads up to 3: upgrade podium")


def test_an_sqlite_file_of_something_else_is_refused(tmp_path):
    path = tmp_path / "contacts.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE people (name TEXT, phone TEXT)")
        db.execute("INSERT INTO people VALUES ('Ada', '555-0101')")
    refused(path, "an SQLite file but not a memory store \\(it has tables people")


def test_a_store_in_a_folder_that_does_not_exist_is_a_store_error_naming_it(tmp_path):
    missing = tmp_path / "no-such-folder" / "memory.db"
    with pytest.raises(StoreError, match="no-such-folder"):
        MemoryStore(missing)
    assert not missing.parent.exists()


def test_an_answer_episode_remembers_the_app_it_was_read_in():
    from agents.echotrail.trajectory import Scores, from_episode

    launcher = "com.google.android.apps.nexuslauncher"
    steps = [{"action": {"action_type": "swipe", "direction": "up"}, "package": launcher,
              "activity": "NexusLauncher", "summary": "After it swiped up: new on screen: 'Clock'."},
             {"action": {"action_type": "open_app", "app_name": "Clock"}, "package": launcher,
              "activity": "NexusLauncher", "summary": "After it opened Clock: the app changed."},
             {"action": {"action_type": "answer", "text": "6:30 AM"}, "package": "com.google.android.deskclock",
              "activity": "DeskClock", "summary": "After it answered '6:30 AM': the screen looks the same."}]
    memory = from_episode("Which alarm rings first?", steps, status="answered", answer="6:30 AM",
                          scores=Scores(completion=1, coherence=1, efficiency=1), provenance="task")
    assert memory.app == "Clock"


def test_where_a_tap_landed_is_kept_and_a_step_without_one_hashes_as_before(store):
    """MemoryStep.at is new: a step without it must dump (and so hash, for the duplicate check)
    exactly as before the field existed, and a step with it round-trips through the store."""
    plain = Trajectory.parse(trajectory("Set Brightness level to its maximum."))
    assert '"at"' not in plain.model_dump_json() and "at" not in plain.steps[0].model_dump()
    assert plain.steps[0].model_dump_json() == ('{"screen":"settings/Main","action":"click","target":"Button '
                                               "'Set Brightness level to its maximum.'\",\"text\":\"\",\"slot\":\"\","
                                               '"effect":"the screen changed"}')
    tapped = Trajectory.parse({**plain.model_dump(), "steps": [
        {**plain.steps[0].model_dump(), "at": [0.999, 0.5]}, plain.steps[1].model_dump()]})
    stored = store.get(store.add(tapped))
    assert stored.steps[0].at == (0.999, 0.5)
    with pytest.raises(TrajectoryError, match=r"steps\.0\.at"):
        Trajectory.parse({**plain.model_dump(), "steps": [{**plain.steps[0].model_dump(), "at": [1.5, 0]}]})


def test_a_trajectorys_app_is_the_one_entered_last_by_name_or_from_home():
    """Opened by name from inside another app, or tapped on the home screen: the launcher's name."""
    from agents.echotrail.trajectory import app_entered_as

    def step(package, action, target=""):
        return {"package": package, "action": action, "target": target}
    calendar, clock, launcher = "com.google.android.calendar", "com.google.android.deskclock", "com.x.nexuslauncher"
    inside = [step(launcher, {"action_type": "open_app", "app_name": "Calendar"}),
              step(calendar, {"action_type": "open_app", "app_name": "Clock"}), step(clock, {"action_type": "click"})]
    assert app_entered_as(inside, clock) == "Clock"
    tapped = [step(calendar, {"action_type": "navigate_home"}), step(launcher, {"action_type": "click"}, "Clock"),
              step(clock, {"action_type": "click"})]
    assert app_entered_as(tapped, clock) == "Clock" and app_entered_as(tapped, calendar) == ""
