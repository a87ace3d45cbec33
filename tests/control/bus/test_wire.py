"""The wire format: every value users send must come back equal, and garbage must be refused."""
from __future__ import annotations

import msgpack
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from control.bus import wire
from control.errors import UnsupportedVersion, WireError


def roundtrip(tree):
    return wire.decode_tree([bytes(memoryview(f).cast("B")) if not isinstance(f, bytes) else f
                             for f in wire.encode_tree(tree)])


def assert_same(a, b):
    assert type(a) is type(b), (type(a), type(b))
    if isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)
    elif isinstance(a, np.generic):
        assert a.dtype == b.dtype and (a == b or (a != a and b != b))
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            assert_same(x, y)
    elif isinstance(a, dict):
        assert a.keys() == b.keys()
        for k in a:
            assert_same(a[k], b[k])
    else:
        assert a == b or (a != a and b != b)


@pytest.mark.parametrize("value", [None, True, False, 0, -1, 2**63 - 1, -(2**63), 2**64 - 1, 1.5,
                                   float("inf"), "", "unicode ✓ ü", b"", b"\x00\xff" * 10,
                                   [], {}, (), [1, [2, [3]]], {"a": {"b": (1, 2.0, "x")}},
                                   {1: "int keys", 2: None}, ((),), [(1, 2), (3, 4)]])
def test_plain_values_roundtrip(value):
    assert_same(value, roundtrip(value))


DTYPES = ["bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
          "float16", "float32", "float64", "complex64", "complex128", ">f8", ">i4", ">u2", "<f4",
          "datetime64[ns]", "timedelta64[ms]", "<U5", "|S3"]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(), (0,), (7,), (3, 0, 2), (2, 3, 4)])
def test_arrays_of_every_dtype_and_shape(dtype, shape):
    rng = np.random.default_rng(0)
    arr = np.asarray(rng.integers(0, 100, size=shape)).astype(dtype)
    out = roundtrip({"x": arr})["x"]
    assert_same(arr, out)
    assert out.dtype.str == np.dtype(dtype).str  # byte order survives


@pytest.mark.parametrize("make", [lambda a: a[::2], lambda a: a.T, lambda a: np.asfortranarray(a),
                                  lambda a: a[:, 1], lambda a: a[::-1, ::3]])
def test_non_contiguous_arrays(make):
    view = make(np.arange(60, dtype=np.float64).reshape(6, 10))
    assert_same(np.ascontiguousarray(view), roundtrip(view))


def test_numpy_scalars_keep_their_dtype():
    for value in (np.float32(1.5), np.int64(-3), np.uint8(255), np.bool_(True), np.float16(2),
                  np.datetime64("2026-11-24"), np.complex64(1 + 2j)):
        assert_same(value, roundtrip(value))


def test_large_array_is_sent_without_copy_and_received_as_a_view():
    big = np.arange(4_000_000, dtype=np.float64)  # 32 MB
    frames = wire.encode_tree([big])
    assert np.shares_memory(frames[1], big)  # encoding did not copy
    out = wire.decode_tree(frames)[0]
    assert np.shares_memory(out, frames[1])  # decoding did not copy either
    np.testing.assert_array_equal(out, big)


def test_message_roundtrip_keeps_header_fields():
    message = wire.Message(wire.CALL, 42, "step", 1234.5, {"args": [np.ones(3)], "kwargs": {"k": 1}})
    out = wire.decode(wire.encode(message))
    assert (out.kind, out.id, out.method, out.deadline) == ("call", 42, "step", 1234.5)
    np.testing.assert_array_equal(out.body["args"][0], np.ones(3))


array_strategy = hnp.arrays(
    dtype=st.sampled_from([np.dtype(d) for d in ("bool", "int8", "uint16", "int32", "int64",
                                                  "float32", "float64", ">f4", ">i8", "complex64")]),
    shape=hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=5))
leaves = (st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.floats(allow_nan=False)
          | st.text(max_size=20) | st.binary(max_size=20) | array_strategy)
trees = st.recursive(leaves, lambda children: st.lists(children, max_size=4)
                     | st.tuples(children, children)
                     | st.dictionaries(st.text(max_size=8), children, max_size=4), max_leaves=20)


@settings(max_examples=300, deadline=None)
@given(trees)
def test_any_tree_roundtrips(tree):
    assert_same(tree, roundtrip(tree))


@pytest.mark.parametrize("value, words", [
    (np.array([object()], dtype=object), "dtype object"),
    (np.zeros(2, dtype=[("a", "f4"), ("b", "i4")]), "structured"),
    ({1, 2}, "builtins.set"),
    (object(), "builtins.object"),
    (2**70, "cannot encode"),
])
def test_unencodable_values_are_named(value, words):
    with pytest.raises(WireError, match=words):
        wire.encode_tree({"x": value})


def header(**fields):
    base = {"v": 1, "kind": "call", "id": 1, "method": "m", "deadline": None, "body": None}
    base.update(fields)
    return msgpack.packb(base)


@pytest.mark.parametrize("frames, error, words", [
    ([], WireError, "empty"),
    ([b"\xc1garbage"], WireError, "malformed"),
    ([msgpack.packb([1, 2, 3])], WireError, "must be a msgpack map"),
    ([header(v=2)], UnsupportedVersion, "version 2"),
    ([header(v=None)], UnsupportedVersion, "version None"),
    ([header(kind="launch")], WireError, "unknown message kind"),
    ([header(id="seven")], WireError, "id must be an integer"),
    ([header(method=3)], WireError, "method must be a string"),
    ([header(deadline="soon")], WireError, "deadline must be a number"),
    ([header(body=msgpack.ExtType(1, msgpack.packb([0, "<f4", [2]])))], WireError,
     "buffer frame 0 but the message has 0"),
    ([header(body=msgpack.ExtType(1, msgpack.packb([0, "<f4", [3]]))), b"12345678"], WireError,
     "holds 8 bytes"),
    ([header(body=msgpack.ExtType(1, msgpack.packb([0, "O", [1]]))), b"12345678"], WireError,
     "cannot travel"),
    ([header(body=msgpack.ExtType(1, msgpack.packb([0, "nope", [1]]))), b"1"], WireError,
     "unknown dtype"),
    ([header(body=msgpack.ExtType(1, msgpack.packb([0, "<f4", [-1]]))), b""], WireError,
     "non-negative"),
    ([header(body=msgpack.ExtType(9, b"x"))], WireError, "unknown extension type 9"),
    ([header(body=msgpack.ExtType(2, msgpack.packb(["<f8", b"123"])))], WireError, "needs 8 bytes"),
])
def test_malformed_messages_are_refused_with_a_reason(frames, error, words):
    with pytest.raises(error, match=words):
        wire.decode(frames)


def test_truncated_header_is_refused():
    frames = wire.encode(wire.Message(wire.CALL, 1, "m", None, {"args": [1, 2, 3]}))
    with pytest.raises(WireError):
        wire.decode([frames[0][: len(frames[0]) // 2]])


def test_small_arrays_travel_inside_the_header_and_large_ones_as_frames():
    small, large = np.arange(12, dtype=np.float32).reshape(3, 4), np.arange(2048, dtype=np.float64)
    edge = np.zeros(wire.INLINE_MAX_BYTES // 8, np.float64)  # exactly the limit: inline
    frames = wire.encode(wire.Message(wire.REPLY, 1, body={"s": small, "l": large, "e": edge,
                                                           "t": small.T, "empty": np.zeros((0, 3), np.int8)}))
    assert len(frames) == 2  # the header, and one frame for the large array only
    body = wire.decode([bytes(f) for f in frames]).body
    for key, want in (("s", small), ("l", large), ("e", edge), ("t", small.T)):
        assert body[key].dtype == want.dtype and np.array_equal(body[key], want)
    assert body["t"].flags.c_contiguous and body["empty"].shape == (0, 3)


@pytest.mark.parametrize("meta, words", [
    (["<f4", [3], b"\0" * 8], "holds 8 bytes but dtype <f4 and shape [3] need 12"),
    (["|O", [1], b"\0" * 8], "unknown dtype"),
    (["<f4", [-1], b""], "non-negative ints"),
    (["<f4", [1] * 65, b"\0" * 4], "at most 64"),
    (["<f4", [1]], "must hold [dtype, shape, bytes]"),
    (["<f4", [1], "text"], "must hold [dtype, shape, bytes]"),
])
def test_a_bad_inline_array_is_named(meta, words):
    import msgpack

    ext = msgpack.ExtType(wire.EXT_INLINE_NDARRAY, msgpack.packb(meta, use_bin_type=True))
    header = msgpack.packb({"v": 1, "kind": "reply", "id": 1, "method": None, "deadline": None,
                            "body": ext}, use_bin_type=True)
    with pytest.raises(WireError) as refused:
        wire.decode([header])
    assert words in str(refused.value)
