"""The memory service on the bus (`podium memory` as its own process): clients share one store,
the service is killed and restarted under them, and peers send it garbage."""
from __future__ import annotations

import threading
from dataclasses import dataclass

import pytest

from agents.echotrail.service import RemoteMemory
from control.bus.hub import Hub, HubClient, connect, wait_for_service
from control.errors import RemoteError
from tests.agents.echotrail.conftest import trajectory
from tests.conftest import Processes, free_port, wait_until

NAME = "memory:test"


@dataclass
class Service:
    """One `podium memory` process (the module's tests share it: each start loads the model)."""

    hub: Hub
    processes: Processes
    db: object
    instance: str = ""

    def start(self) -> None:
        """Start it; return once the hub lists this new instance (not the one it replaces)."""
        proc = self.processes.podium("memory", "--db", str(self.db), "--name", NAME, "--hub", self.hub.endpoint)
        with HubClient(self.hub.endpoint) as client:
            while True:
                record = wait_for_service(client, NAME, timeout=90)
                if record["instance"] != self.instance:
                    assert record["kind"] == "memory" and record["capabilities"]["db"] == str(self.db)
                    self.instance = record["instance"]
                    return
                assert proc.poll() is None, proc.stderr.read()

    def kill(self) -> None:
        self.processes.kill(self.processes.procs[-1])          # SIGKILL


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    processes = Processes()
    with Hub(f"tcp://127.0.0.1:{free_port()}") as hub:
        running = Service(hub, processes, tmp_path_factory.mktemp("service") / "memory.db")
        running.start()
        try:
            yield running
        finally:
            processes.cleanup()


def test_two_clients_share_one_store_and_outlive_a_killed_service(service):
    hub = service.hub
    a = RemoteMemory(NAME, hub=hub.endpoint, timeout=2, patience=60)
    b = RemoteMemory(NAME, hub=hub.endpoint, timeout=2, patience=60)
    before = len(a)
    alarm = a.add(trajectory("Set an alarm for 7:30 AM", "Clock"))
    assert b.get(alarm).intent == "Set an alarm for 7:30 AM"                       # b sees a's write
    wifi = b.add(trajectory("Turn Wi-Fi off", "Settings"))
    assert [h.id for h in a.search("Switch the Wi-Fi off", k=1)] == [wifi]         # and a sees b's
    assert b.add(trajectory("Set an alarm for 7:30 AM", "Clock")) == alarm         # stored once

    acknowledged: dict[str, list[tuple[int, str]]] = {"a": [], "b": []}
    failures: list[BaseException] = []

    def write(client: RemoteMemory, tag: str) -> None:
        try:
            for n in range(8):
                intent = f"Write note {tag} {n}"
                acknowledged[tag].append((client.add(trajectory(intent, "Notes")), intent))
        except BaseException as exc:          # reported below, in the test thread
            failures.append(exc)

    writers = [threading.Thread(target=write, args=(c, t)) for c, t in ((a, "a"), (b, "b"))]
    for thread in writers:
        thread.start()
    wait_until(lambda: min(len(v) for v in acknowledged.values()) >= 2, timeout=30)
    service.kill()                                                      # mid-run: both are writing
    service.start()                                                     # on the same file
    for thread in writers:
        thread.join(120)
    assert not failures, failures
    assert [len(v) for v in acknowledged.values()] == [8, 8]
    for client in (a, b):                                               # every acknowledged add, from both
        for id_, intent in acknowledged["a"] + acknowledged["b"]:
            assert client.get(id_).intent == intent
    assert len(a) == len(b) == before + 2 + 16
    assert a.stats()["by_provenance"]["task"]["Notes"] == 16
    a.close()
    b.close()


TOO_MANY_STEPS = [{"screen": "notes/Main", "action": "click"}] * 101
MALFORMED = [
    ({k: v for k, v in trajectory("Turn Wi-Fi off").items() if k != "outcome"}, "outcome: Field required"),
    (dict(trajectory("Turn Wi-Fi off"), mood="happy"), "mood: Extra inputs are not permitted"),
    (dict(trajectory("Turn Wi-Fi off"), steps="tap it"), "steps: Input should be a valid list"),
    (dict(trajectory("Turn Wi-Fi off"), scores={"completion": "lots", "coherence": 1, "efficiency": 1}),
     "scores.completion: Input should be a valid number"),
    (dict(trajectory("Turn Wi-Fi off"), intent=42), "intent: Input should be a valid string"),
    (dict(trajectory("Turn Wi-Fi off"), steps=TOO_MANY_STEPS), "steps: List should have at most 100 items"),
    (dict(trajectory("Turn Wi-Fi off"), intent="x" * 100_000), "intent: String should have at most 500 characters"),
    (dict(trajectory("Turn Wi-Fi off"), created=float("inf")), "created: Input should be a finite number"),
    (["Turn Wi-Fi off"], "trajectory: Input should be a valid dictionary"),
    ("Turn Wi-Fi off", "trajectory: Input should be a valid dictionary"),
]
BAD_SEARCHES = [
    (("Turn Wi-Fi off", None, 0), "k must be an integer from 1 to 100, got 0"),
    (("Turn Wi-Fi off", None, 10**6), "k must be an integer from 1 to 100, got 1000000"),
    (("Turn Wi-Fi off", None, "3"), "k must be an integer from 1 to 100, got '3'"),
    (("", None, 3), "query must be text of 1 to 2000 characters"),
    (("   ", None, 3), "query must be text of 1 to 2000 characters"),
    (("x" * 5000, None, 3), "query must be text of 1 to 2000 characters, got str of 5000"),
    (("Turn Wi-Fi off", None, 3, "fuzzy"), "mode must be hybrid, semantic or lexical, got 'fuzzy'"),
    (("Turn Wi-Fi off", {"app": "Clock"}, 3), "app must be text of at most 200 characters or null"),
    (("Turn Wi-Fi off", None, 3, "hybrid", "high"), "floor must be a finite number, got 'high'"),
]


def test_garbage_from_a_peer_is_refused_by_name_and_changes_nothing(service):
    good = RemoteMemory(NAME, hub=service.hub.endpoint, timeout=10)
    kept = good.add(trajectory("Turn Wi-Fi off", "Settings"))
    count = len(good)
    raw = connect(NAME, service.hub.endpoint, timeout=10)      # a peer that skips RemoteMemory's own checks
    for bad, message in MALFORMED:
        with pytest.raises(RemoteError, match="TrajectoryError in memory:test.add: bad trajectory: ") as caught:
            raw.call("add", bad)
        assert message in str(caught.value)
        assert len(good) == count
        assert good.search("Switch the Wi-Fi off", k=1)[0].id == kept          # answers a valid call right after
    for args, message in BAD_SEARCHES:
        with pytest.raises(ValueError) as caught:
            raw.call("search", *args)
        assert message in str(caught.value)
        assert good.get(kept).intent == "Turn Wi-Fi off"
    with pytest.raises(RemoteError, match="keep_per_intent must be an integer from 0"):
        raw.call("prune", None, None, -1)
    with pytest.raises(RemoteError, match=f"no trajectory 999 in {service.db}"):
        good.get(999)
    assert len(good) == count and raw.call("stats")["trajectories"] == count
    raw.close()
    good.close()
