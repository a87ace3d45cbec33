"""Property-based: what a peer may send. Trajectory.parse returns a Trajectory or raises
TrajectoryError, whatever the input; the service's add and search raise only ValueError-family
errors (TrajectoryError among them) or TypeError, each with a message, and the store changes only
when an add succeeds."""
from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, find, given, settings
from hypothesis import strategies as st

from agents.echotrail.service import MemoryService
from agents.echotrail.store import MemoryStore
from agents.echotrail.trajectory import Trajectory, TrajectoryError
from tests.agents.echotrail.conftest import trajectory

SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30) | \
    st.integers(min_value=2**63, max_value=2**80)
JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner,
                                                                                          max_size=4), max_leaves=20)
VALID = trajectory("Set an alarm for 7:30 AM", "Clock", answer=None, source="explorer/sim:phone-0")
FIELDS = sorted(set(VALID) | {"created"})
STEP_FIELDS = ["screen", "action", "target", "text", "slot", "effect"]


@st.composite
def mutated(draw) -> dict:
    """A valid trajectory with a few fields removed, replaced by anything, added, or made too long."""
    data = {**VALID, "steps": [dict(s) for s in VALID["steps"]], "scores": dict(VALID["scores"])}
    for _ in range(draw(st.integers(1, 3))):
        how = draw(st.sampled_from(["drop", "replace", "add", "step", "score", "created", "long"]))
        if how == "drop":
            data.pop(draw(st.sampled_from(FIELDS)), None)
        elif how == "replace":
            data[draw(st.sampled_from(FIELDS))] = draw(JSON)
        elif how == "add":
            data[draw(st.text(min_size=1, max_size=12))] = draw(JSON)
        elif how == "step" and isinstance(data.get("steps"), list) and data["steps"] and \
                isinstance(data["steps"][0], dict):
            data["steps"][0] = {**data["steps"][0], draw(st.sampled_from(STEP_FIELDS + ["extra"])): draw(JSON)}
        elif how == "score" and isinstance(data.get("scores"), dict):
            data["scores"][draw(st.sampled_from(["completion", "coherence", "efficiency"]))] = \
                draw(st.floats() | st.integers() | st.text(max_size=4))
        elif how == "created":
            data["created"] = draw(st.sampled_from([math.inf, -math.inf, math.nan, -0.0, 1e308, True]) | st.floats()
                                   | st.integers(-10, 2**70) | st.text(max_size=4))
        elif how == "long":
            field = draw(st.sampled_from(["intent", "app", "source", "answer"]))
            data[field] = "x" * draw(st.sampled_from([199, 200, 201, 499, 500, 501, 1001, 100_000]))
    return data


def parse_or_refuse(data) -> Trajectory | None:
    try:
        parsed = Trajectory.parse(data)
    except TrajectoryError as exc:
        assert str(exc).startswith("bad trajectory: ")
        return None
    assert isinstance(parsed, Trajectory)
    assert math.isfinite(parsed.created) and 1 <= len(parsed.steps) <= 100 and len(parsed.intent) <= 500
    assert Trajectory.parse(parsed.model_dump()) == parsed            # what it accepts, it accepts again
    assert Trajectory.model_validate_json(parsed.model_dump_json()) == parsed     # and exports losslessly
    return parsed


@settings(max_examples=300, deadline=None)
@given(JSON)
def test_parse_of_any_json_value_returns_a_trajectory_or_refuses(data):
    parse_or_refuse(data)


@settings(max_examples=400, deadline=None)
@given(mutated())
def test_parse_of_a_mutated_trajectory_returns_a_trajectory_or_refuses(data):
    parse_or_refuse(data)


def test_the_mutations_reach_both_outcomes():
    """The mutated trajectories are not all refused (nor all accepted): the test above sees both."""
    assert Trajectory.parse(find(mutated(), lambda d: parse_or_refuse(d) is not None))
    with pytest.raises(TrajectoryError):
        Trajectory.parse(find(mutated(), lambda d: parse_or_refuse(d) is None))


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    with MemoryStore(tmp_path_factory.mktemp("fuzz") / "memory.db") as store:
        yield MemoryService(store)


def allowed(exc: Exception) -> bool:
    return isinstance(exc, (ValueError, TypeError)) and bool(str(exc))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(mutated(), JSON))
def test_service_add_of_anything_stores_only_what_is_valid(service, data):
    before = len(service.store)
    try:
        id_ = service.add(data)
    except Exception as exc:
        assert allowed(exc), repr(exc)
        assert len(service.store) == before
        return
    assert len(service.store) in (before, before + 1)
    assert service.store.get(id_) == Trajectory.parse(dict(data, created=service.store.get(id_).created))


def mostly(valid, odd=JSON):
    """Usually a valid argument, sometimes anything: so that each odd one is met with the others valid."""
    return st.one_of(valid, valid, valid, odd)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mostly(st.sampled_from(["Set an alarm for 6:00", "Turn Bluetooth off"]), st.text(max_size=40) | JSON),
       mostly(st.none() | st.sampled_from(["Clock", "Settings", ""])),
       mostly(st.integers(1, 100), st.integers() | JSON), mostly(st.sampled_from(["hybrid", "semantic", "lexical"])),
       mostly(st.floats(-1, 1), st.floats() | JSON), mostly(st.floats(-1, 1), st.floats() | JSON))
def test_service_search_with_any_arguments_answers_or_names_the_argument(service, query, app, k, mode, floor,
                                                                        lexical_floor):
    if not len(service.store):
        service.add(VALID)
    before = len(service.store)
    try:
        hits = service.search(query, app, k, mode, floor, lexical_floor)
    except Exception as exc:
        assert allowed(exc), repr(exc)
    else:
        assert isinstance(hits, list) and len(hits) <= k
        assert all(Trajectory.parse(h["trajectory"]) for h in hits)
    assert len(service.store) == before
