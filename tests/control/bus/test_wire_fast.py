"""The fast decoding path (msgspec) against the checked one, property by property: whatever the
fast path accepts, hostile or not, the checked path accepts too, with the same values of the same
types; and the well-formed messages podium itself sends are taken by the fast path."""
from __future__ import annotations

import collections
import sys
import threading

import msgpack
import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from control.bus import wire
from tests.control.bus.conftest import assert_same
from tests.control.bus.test_fuzz import (
    FUZZ,
    GOOD,
    dtype_strings,
    header_fields,
    nested,
    pack,
    trees,
)


def check(frames: list) -> wire.Message | None:
    """The fast path's answer, after asserting that the checked path agrees with it."""
    try:
        checked = wire._decode_checked(frames)
    except wire.WireError:
        checked = None
    fast = wire._fast_decode(frames)
    if fast is not None:
        assert checked is not None, f"fast path accepted what the checked path refuses: {fast}"
        for field in ("kind", "id", "method", "deadline", "body"):
            assert_same(getattr(fast, field), getattr(checked, field))
    return fast


@FUZZ
@given(header_fields)
def test_header_fields_of_every_type_and_value(header):
    check([pack(header)])


@FUZZ
@given(st.lists(st.sampled_from(["tuple", "list", "map"]), min_size=1, max_size=200))
def test_nesting_of_lists_maps_and_tuples(kinds):
    fast = check([pack({**GOOD, "body": {"args": [nested(kinds)], "kwargs": {}}})])
    if len(kinds) + 3 > wire.MAX_DEPTH:
        assert fast is None


@FUZZ
@given(dtype_strings, st.binary(max_size=64), st.lists(st.integers(-1, 4), max_size=3),
       st.integers(-1, 3), st.integers(0, 3), st.sampled_from(["frame", "inline", "scalar"]))
def test_arrays_scalars_dtypes_and_frame_counts(dtype, raw, shape, index, extra_frames, where):
    if where == "scalar":
        arg, buffers = msgpack.ExtType(wire.EXT_SCALAR, pack([dtype, raw])), [raw] * extra_frames
    elif where == "inline":
        arg, buffers = msgpack.ExtType(wire.EXT_INLINE_NDARRAY, pack([dtype, shape, raw])), [raw] * extra_frames
    else:
        arg = msgpack.ExtType(wire.EXT_NDARRAY, pack([index, dtype, shape]))
        buffers = [raw] * max(extra_frames, 1)
    check([pack({**GOOD, "body": {"args": [arg], "kwargs": {}}}), *buffers])


@FUZZ
@given(st.lists(st.binary(max_size=64), min_size=1, max_size=4))
def test_raw_bytes_in_any_number_of_frames(frames):
    check(frames)


@FUZZ
@given(trees, st.sampled_from([wire.REPLY, wire.ERROR, wire.PUBLISH, wire.HEARTBEAT]))
def test_any_tree_in_a_one_way_or_reply_message(tree, kind):
    check([pack({"v": 1, "kind": kind, "id": None, "method": None, "deadline": None, "body": tree})])


PORTABLE = st.sampled_from(sorted(wire.PORTABLE_NUMBERS)).flatmap(
    lambda code: st.sampled_from([f"<{code}", f">{code}"]) if code[1:] != "1" else st.just(f"|{code}"))
shapes = hnp.array_shapes(min_dims=0, max_dims=3, max_side=40)
arrays = PORTABLE.flatmap(lambda dtype: hnp.arrays(np.dtype(dtype), shapes))
values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(2**63), 2**63 - 1), st.floats(), st.text(max_size=8),
              st.binary(max_size=8), arrays, arrays.map(lambda a: a.reshape(-1)[:1]).filter(len).map(lambda a: a[0])),
    lambda children: st.one_of(st.lists(children, max_size=4), st.lists(children, max_size=3).map(tuple),
                               st.dictionaries(st.text(max_size=6), children, max_size=4)),
    max_leaves=12)


@FUZZ
@given(values, st.integers(0, 2**40), st.one_of(st.none(), st.floats(0, 2e9)))
def test_messages_podium_sends_take_the_fast_path(body, req_id, deadline):
    frames = wire.encode(wire.Message(wire.CALL, req_id, "step", deadline, {"args": [body], "kwargs": {}}))
    frames = [bytes(memoryview(f).cast("B")) if isinstance(f, np.ndarray) else f for f in frames]
    assume(not wire._may_hold_timestamp(frames[0]))  # those bytes send a message the checked way
    wire._decode_checked(frames)  # learns the dtypes, as the first message of each would
    assert check(frames) is not None


def test_a_timestamp_goes_to_the_checked_path_and_is_refused():
    frames = [pack({**GOOD, "body": {"args": [msgpack.Timestamp(5, 0)], "kwargs": {}}})]
    assert wire._fast_decode(frames) is None
    assert check(frames) is None


def test_nesting_far_beyond_the_limit_is_refused_on_a_small_thread_stack():
    """msgspec stops at Python's recursion limit: 65,000 levels in 64 KiB are refused, without a
    crash, on a 2 MiB thread stack (and so is a program's raised recursion limit, checked path)."""
    head = pack({**GOOD, "body": None})[:-1] + b"\x91" * 65000 + b"\xc0"
    outcome = []

    def decode_deep() -> None:
        for limit in (sys.getrecursionlimit(), 50_000):
            previous = sys.getrecursionlimit()
            sys.setrecursionlimit(limit)
            try:
                outcome.append(wire._fast_decode([head]))
                with pytest.raises(wire.WireError):
                    wire.decode([head])
                outcome.append("refused")
            finally:
                sys.setrecursionlimit(previous)

    size = threading.stack_size(2 * 1024 * 1024)
    try:
        thread = threading.Thread(target=decode_deep)
        thread.start()
        thread.join()
    finally:
        threading.stack_size(size)
    assert outcome == [None, "refused", None, "refused"]


def test_a_peer_filling_the_dtype_cache_slows_no_number_array():
    for size in range(1, 400):  # distinct, valid type strings: the cache's bounded part fills up
        wire._parse_dtype(f"<U{size}")
    for dtype in ("<f4", ">f8", "|b1", "|u1", "<i8"):
        frames = wire.encode(wire.Message(wire.REPLY, 1, body=np.zeros(3, dtype)))
        assert check(frames) is not None, dtype


def frame_bytes(frames: list) -> list[bytes]:
    return [bytes(memoryview(f).cast("B")) if isinstance(f, np.ndarray) else bytes(f) for f in frames]


big_arrays = PORTABLE.flatmap(lambda dtype: hnp.arrays(np.dtype(dtype), st.integers(520, 700)))  # > 4 KiB if 8 B
wide_values = st.recursive(
    st.one_of(values, big_arrays, st.integers(2**64, 2**70), st.integers(-(2**70), -(2**63) - 1)),
    lambda children: st.one_of(st.lists(children, max_size=70),
                               st.dictionaries(st.text(max_size=4), children, max_size=6)),
    max_leaves=40)


@FUZZ
@given(wide_values)
def test_the_fast_encoding_writes_the_same_bytes_as_the_checked_one(body):
    header = {"v": 1, "kind": wire.REPLY, "id": 3, "method": None, "deadline": None, "body": body}
    try:
        checked = frame_bytes(wire.encode_tree(header))
    except wire.WireError:
        checked = None
    try:
        fast = frame_bytes(wire.encode(wire.Message(wire.REPLY, 3, body=body)))
    except wire.WireError:
        fast = None
    assert fast == checked
    if checked is not None and wire._shallow(body, 3):
        encoder = wire._fast.encoder
        assert frame_bytes(encoder.encode(header)) == checked  # the fast path did take it


def test_what_the_fast_encoding_leaves_to_the_checked_one():
    shallow = [np.zeros(3), np.float64(2.5), np.str_("a"), [1, "x", None], {"a": [np.zeros(2000)]}]
    deep_or_strict = [(1, 2), [(1,)], {1: 2}, {"a": {"b": [1]}}, list(range(65)),
                      np.ma.masked_array([1.0]), collections.OrderedDict(a=1)]
    assert all(wire._shallow(value, 3) for value in shallow)
    assert not any(wire._shallow(value, 3) for value in deep_or_strict)
