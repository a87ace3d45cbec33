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


def in_thread(stack_bytes: int, work) -> list:
    """Run `work()` in a thread with a stack of `stack_bytes`; its result in a list."""
    out: list = []
    size = threading.stack_size(stack_bytes)
    try:
        thread = threading.Thread(target=lambda: out.append(work()))
        thread.start()
        thread.join()
    finally:
        threading.stack_size(size)
    return out


def deep_message(levels: int) -> bytes:
    return pack({**GOOD, "body": None})[:-1] + b"\x91" * levels + b"\xc0"


def outcome(head: bytes) -> tuple:
    """(the fast path's answer, whether decode refused the message)"""
    fast = wire._fast_decode([head])
    try:
        wire.decode([head])
    except wire.WireError:
        return fast, "refused"
    return fast, "accepted"


def test_nesting_far_beyond_the_limit_is_refused_without_a_crash():
    """msgspec stops at Python's recursion limit: 65,000 levels in 64 KiB are refused on a 2 MiB
    thread stack, by the checked path where a program raised the limit."""
    head = deep_message(65000)

    def both_limits() -> list:
        results = [outcome(head)]
        previous = sys.getrecursionlimit()
        sys.setrecursionlimit(50_000)
        try:
            results.append(outcome(head))
        finally:
            sys.setrecursionlimit(previous)
        return results

    assert in_thread(2 * 1024 * 1024, both_limits) == [[(None, "refused"), (None, "refused")]]


def test_small_thread_stacks_take_the_checked_path():
    """950 levels in 1 KB overflow msgspec on a 256 KiB stack (found in review: a segfault); on a
    thread with a stack under 1 MiB every message goes the checked way, which refuses this one."""
    small = wire.encode(wire.Message(wire.REPLY, 1, body=[1]))
    assert in_thread(256 * 1024, lambda: (wire._thread_stack_bytes(), wire._fast_decode(small),
                                          outcome(deep_message(950)))) == [(256 * 1024, None, (None, "refused"))]
    assert wire._fast_decode(small) is not None  # this thread's stack is large: the fast path is on


@pytest.mark.parametrize("stamp", [b"\xd6\xff" + bytes(4), b"\xd7\xff" + bytes(8), b"\xc7\x0c\xff" + bytes(12),
                                   b"\xc7\x04\xff" + bytes(4), b"\xc7\x08\xff" + bytes(8),
                                   b"\xc8\x00\x0c\xff" + bytes(12), b"\xc9\x00\x00\x00\x04\xff" + bytes(4)])
@pytest.mark.parametrize("inside", ["body", "tuple"])
def test_a_timestamp_in_any_of_its_encodings_is_refused_by_both_paths(stamp, inside):
    """msgpack decodes non-canonical timestamp headers too (ext 8/16/32 of 4, 8 or 12 bytes)."""
    value = stamp if inside == "body" else pack(msgpack.ExtType(wire.EXT_TUPLE, b"\x91" + stamp))
    head = pack({**GOOD, "body": None})[:-1] + value
    assert outcome(head) == (None, "refused")


def test_an_array_as_a_map_key_is_refused_by_both_paths():
    """msgspec turns an array key into a tuple; msgpack (and the protocol) refuse it. A tuple key
    (ext 3) is fine on both."""
    head = pack({**GOOD, "body": None})[:-1]
    assert outcome(head + b"\x81\x92\x01\x02\x01") == (None, "refused")
    assert outcome(head + b"\x81\xa1k\x81\x91\x01\x02") == (None, "refused")  # nested
    tuple_key = pack({msgpack.ExtType(wire.EXT_TUPLE, pack([1, 2])): 5})
    fast, verdict = outcome(head + tuple_key)
    assert verdict == "accepted" and fast.body == {(1, 2): 5}


def test_a_decode_or_encode_inside_another_on_one_thread_takes_the_checked_path(monkeypatch):
    """A signal handler that decodes or publishes while this thread is inside the fast path must
    not clobber its state: the nested call goes the checked way, and both come out right."""
    inner = wire.encode(wire.Message(wire.REPLY, 2, body=np.arange(3)))
    outer = wire.encode(wire.Message(wire.REPLY, 1, body=[np.zeros(2000), np.ones(3)]))
    wire.decode(outer)
    nested = []
    ext = wire._FastDecoder.ext

    def ext_that_decodes_again(self, code, data):
        if not nested:
            nested.append((wire._fast_decode(inner), wire.decode(inner)))
        return ext(self, code, data)

    monkeypatch.setattr(wire._FastDecoder, "ext", ext_that_decodes_again)
    monkeypatch.setattr(wire._fast, "decoder", wire._FastDecoder())
    message = wire._fast_decode([bytes(memoryview(f).cast("B")) for f in outer])
    assert nested[0][0] is None and nested[0][1].body.tolist() == [0, 1, 2]
    assert message is not None and message.body[0].shape == (2000,) and message.body[1].tolist() == [1, 1, 1]


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
