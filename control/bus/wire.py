"""podium's wire format: one msgpack header frame, then one raw frame per numpy array.

This module is the whole wire contract; docs/protocol.md describes the same thing for people
writing clients in other languages. In short:

    frame 0      msgpack map {"v": 1, "kind": str, "id": int|None, "method": str|None,
                              "deadline": float|None, "body": <tree>}
    frame 1..n   raw bytes of the arrays referenced from the tree, C order

Inside the tree, values that msgpack has no type for travel as msgpack extension types:
    ext 1  ndarray   payload msgpack [frame_index, dtype_str, shape]  (bytes in frame 1+frame_index)
    ext 2  np scalar payload msgpack [dtype_str, raw_bytes]
    ext 3  tuple     payload msgpack [items...]
    ext 4  ndarray   payload msgpack [dtype_str, shape, raw_bytes]    (small arrays, in the header)

No pickle, ever: only the types above cross the wire. Arrays over COPY_THRESHOLD bytes are sent
without copying (zmq keeps a reference to the array's memory) and received as read-only views of
the received frame.

Nothing a peer sends may cost the receiver more than a bounded amount of stack, memory or CPU:
trees nest at most MAX_DEPTH containers deep and hold at most MAX_ELEMENTS items in all, a message
has at most MAX_FRAMES buffer frames and each is referred to by exactly one array, only the portable
dtypes of PORTABLE_DTYPES travel, and every cache keyed by what a peer sends has a fixed bound.
"""
from __future__ import annotations

import math
import re
import reprlib
import sys
import threading
from collections.abc import Sequence
from typing import Annotated, Any

import msgpack
import msgspec
import numpy as np
import zmq

from control.errors import UnsupportedVersion, WireError

PROTOCOL_VERSION = 1
COPY_THRESHOLD = 64 * 1024  # bytes; smaller frames are copied by pyzmq, which is faster for them
# Arrays up to this size travel inside the header (ext 4), not as frames of their own: each zmq
# frame is a Python-level send and receive (and a Frame object) on both sides, which costs more
# than copying a few KiB; an env step's infos alone are a dozen small arrays.
INLINE_MAX_BYTES = 4 * 1024

CALL = "call"            # client -> server: run `method` with body {"args": [...], "kwargs": {...}}
REPLY = "reply"          # server -> client: body is the return value
ERROR = "error"          # server -> client: body {"type": str, "message": str, "traceback": str|None}
HEARTBEAT = "heartbeat"  # daemon -> hub, one way: body is the daemon's registration record
PUBLISH = "publish"      # publisher -> subscribers, one way: body {"topic": str, "seq": int, "value": tree}
KINDS = frozenset({CALL, REPLY, ERROR, HEARTBEAT, PUBLISH})

# msgpack's default 256 KiB packing buffer is allocated per packb call; when packing nests (inside
# `default`) glibc serves it with mmap, costing ~14 us a call. Small buffers grow as needed.
_BUF = 1024

EXT_NDARRAY = 1
EXT_SCALAR = 2
EXT_TUPLE = 3
EXT_INLINE_NDARRAY = 4

HEADER_KEYS = frozenset({"v", "kind", "id", "method", "deadline", "body"})
# Containers (arrays, maps, tuples) nested in one another, the outermost (the header map) being 1.
MAX_DEPTH = 64
# Items of all arrays and maps of one tree (a map item is a key-value pair), plus the containers.
MAX_ELEMENTS = 1 << 20
MAX_FRAMES = 4096  # buffer frames (arrays) per message
MAX_NDIM = 64      # numpy's own limit on array dimensions
MAX_DTYPE_CHARS = 16

# The dtypes that mean the same on every platform and in every language: fixed-size numbers
# (bool, ints, IEEE floats, complex of two IEEE floats) in either byte order, datetime64 and
# timedelta64 with one of numpy's units and no multiplier, and fixed-length bytes (S) and UTF-32
# strings (U). Not: objects (O), void and structured dtypes (V), subarrays, or the platform's long
# double (g/G: 80-bit x87 on x86, 128-bit elsewhere, 64-bit on Windows and Apple silicon).
PORTABLE_NUMBERS = frozenset({"b1", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "f2", "f4", "f8",
                              "c8", "c16"})
DATETIME_UNITS = frozenset({"Y", "M", "W", "D", "h", "m", "s", "ms", "us", "ns", "ps", "fs", "as"})
PORTABLE_DTYPES = ("numbers: " + " ".join(sorted(PORTABLE_NUMBERS)) + "; datetime64/timedelta64 "
                   "(M8/m8) in units " + " ".join(sorted(DATETIME_UNITS)) + "; S<n> and U<n>, n >= 1")

_short = reprlib.Repr()
_short.maxstring = _short.maxother = 60
_short.maxlist = _short.maxdict = _short.maxtuple = _short.maxset = 4
_short.maxlevel = 2


def show(value: Any) -> str:
    """A short repr for error messages: a peer's value may be megabytes or deeply nested."""
    return f"{_short.repr(value)} ({type(value).__name__})"


class Message(msgspec.Struct, frozen=True):
    """A decoded message. `deadline` is Unix time in seconds after which the caller stops waiting.
    (A msgspec Struct, not a dataclass: made for every message, and a frozen dataclass's __init__
    costs a microsecond.)"""

    kind: str
    id: int | None = None
    method: str | None = None
    deadline: float | None = None
    body: Any = None


def _check_dtype(dtype: np.dtype) -> None:
    code = dtype.str[1:]
    if code in PORTABLE_NUMBERS:
        return
    if dtype.kind in "Mm" and dtype.fields is None:
        unit, count = np.datetime_data(dtype)
        if count == 1 and unit in DATETIME_UNITS:
            return
    elif dtype.kind in "SU" and dtype.itemsize > 0:
        return
    raise WireError(f"arrays of dtype {dtype} ({dtype.str}) cannot travel on the wire: only the "
                    f"portable dtypes do ({PORTABLE_DTYPES}); no objects, no structured or void "
                    "dtypes, no long doubles")


# Bounded by construction: only the fixed-size number dtypes (at most two byte orders each) are
# cached; others (datetimes, strings of every length) are packed afresh. Keys are dtypes, whose
# hash ignores datetime units: caching those would also make every lookup a linear scan.
_scalar_prefixes: dict[np.dtype, bytes] = {}


def _scalar_prefix(dtype: np.dtype) -> bytes:
    """msgpack of [dtype_str, raw_bytes] minus the raw bytes, made once per dtype by msgpack itself:
    env infos are full of numpy scalars, and packing each from scratch costs ~2 us."""
    prefix = _scalar_prefixes.get(dtype)
    if prefix is None:
        _check_dtype(dtype)
        packed = msgpack.packb([dtype.str, bytes(dtype.itemsize)], use_bin_type=True)
        prefix = packed[: len(packed) - dtype.itemsize]
        if dtype.kind in "biufc" and len(_scalar_prefixes) < 64:
            _scalar_prefixes[dtype] = prefix
    return prefix


# The number dtypes, checked once, with their type strings (dtype.str builds a new one each time).
_sendable = {dtype: dtype.str for dtype in (np.dtype(code).newbyteorder(order)
                                            for code in PORTABLE_NUMBERS for order in "<>")}
_meta_encoder = msgspec.msgpack.Encoder()


def _ext(code: int, data: bytes) -> msgpack.ExtType:
    # ExtType's own constructor re-checks both fields in Python, half a microsecond a value
    return tuple.__new__(msgpack.ExtType, (code, data))


def _numpy_ext(obj: Any, buffers: list[np.ndarray]) -> tuple[int, bytes] | None:
    """The extension (code, payload) of a numpy array or scalar, for both encoders; an array over
    INLINE_MAX_BYTES goes to `buffers` (a frame of its own). None for anything else."""
    if isinstance(obj, np.ndarray):
        dtype_str = _sendable.get(obj.dtype)
        if dtype_str is None:
            _check_dtype(obj.dtype)
            dtype_str = obj.dtype.str
        if obj.nbytes <= INLINE_MAX_BYTES:
            # tobytes: C order, a copy. The meta is packed by msgspec: the same bytes as msgpack's
            # packb, at a sixth of its cost per call.
            return EXT_INLINE_NDARRAY, _meta_encoder.encode((dtype_str, obj.shape, obj.tobytes()))
        # Viewed as bytes so that every dtype (datetime64 too) exports a plain buffer.
        buffers.append(np.ascontiguousarray(obj).reshape(-1).view(np.uint8))
        return EXT_NDARRAY, _meta_encoder.encode((len(buffers) - 1, dtype_str, obj.shape))
    if isinstance(obj, np.generic):
        return EXT_SCALAR, _scalar_prefix(obj.dtype) + obj.tobytes()
    return None


class _Encoder:
    """Packs one tree, collecting its arrays into `buffers`.

    A class rather than closures on purpose: mutually referring closures form a reference cycle
    that keeps every received frame (megabytes each) alive until the cyclic GC happens to run.
    """

    def __init__(self) -> None:
        self.buffers: list[np.ndarray] = []
        self.depth = 0

    def default(self, obj: Any) -> msgpack.ExtType:
        numpy_ext = _numpy_ext(obj, self.buffers)
        if numpy_ext is not None:
            return _ext(*numpy_ext)
        if isinstance(obj, tuple):
            # Each tuple is a nested packb call: bounded so that no sender builds what receivers
            # refuse, or runs out of C stack doing it (msgpack bounds nesting within one call).
            if self.depth >= MAX_DEPTH:
                raise WireError(f"tuples nested more than {MAX_DEPTH} deep cannot travel")
            self.depth += 1
            try:
                return _ext(EXT_TUPLE, self.pack(list(obj)))
            finally:
                self.depth -= 1
        raise WireError(f"cannot encode a {type(obj).__module__}.{type(obj).__qualname__}: the wire "
                        "carries None, bool, int, float, str, bytes, list, tuple, dict and numpy "
                        "arrays and scalars")

    def pack(self, obj: Any) -> bytes:
        # A Packer per call (a tuple's nested pack gets its own: a Packer is not re-entrant), used
        # directly: packb's keyword handling in Python costs more than packing a small header.
        packer = msgpack.Packer(default=self.default, use_bin_type=True, strict_types=True, buf_size=_BUF)
        try:
            return packer.pack(obj)
        except WireError:
            raise
        except (OverflowError, ValueError, TypeError) as exc:
            raise WireError(f"cannot encode value: {exc}") from exc


def _unpack_meta(data: bytes) -> Any:
    """An ndarray or scalar extension's payload: a short array. Its length (part of the header's)
    bounds msgpack's work; any extension inside stays an ExtType and fails the type checks."""
    return msgpack.unpackb(data)


class _Decoder:
    """Unpacks one tree whose arrays live in `buffers` (a class for the same reason as _Encoder).

    msgpack bounds the length of each array and map (max_array_len, max_map_len) and, within one
    unpackb call, nesting (its fixed internal stack). What it cannot see is counted here: the items
    of all containers together (list_hook and object_hook see every array and map), and nesting
    across tuple extensions, which are unpacked by nested unpackb calls. The hooks cost a Python
    call per container, so they are only set (`counting`) for headers too large for their byte
    count alone to bound the elements.
    """

    __slots__ = ("buffers", "counting", "elements", "containers", "ext_depth", "frames_used", "inline_noise")

    def __init__(self, buffers: Sequence[Any], counting: bool) -> None:
        self.buffers = buffers
        self.counting = counting
        self.elements = 0
        self.containers = 0
        self.ext_depth = 0
        self.frames_used: set[int] = set()
        # bytes of inline arrays that look like container headers: not containers, see decode_tree
        self.inline_noise = 0

    def count(self, container: Any) -> Any:
        self.containers += 1
        self.elements += len(container) + 1
        if self.elements > MAX_ELEMENTS:
            raise WireError(f"tree holds more than {MAX_ELEMENTS} elements")
        return container

    def ext_hook(self, code: int, data: bytes) -> Any:
        if code == EXT_NDARRAY:
            meta = _unpack_meta(data)
            if type(meta) is not list or len(meta) != 3:
                raise WireError(f"ndarray extension must hold [frame, dtype, shape], got {show(meta)}")
            index, dtype_str, shape = meta
            array = _array_from_frame(self.buffers, index, dtype_str, shape)
            if index in self.frames_used:
                raise WireError(f"buffer frame {index} is referred to by two arrays")
            self.frames_used.add(index)
            return array
        if code == EXT_INLINE_NDARRAY:
            meta = _unpack_meta(data)
            if type(meta) is not list or len(meta) != 3 or type(meta[2]) is not bytes:
                raise WireError(f"inline ndarray extension must hold [dtype, shape, bytes], got {show(meta)}")
            dtype_str, shape, raw = meta
            array = _array_from_bytes(raw, dtype_str, shape, "inline array")
            if not self.counting:
                self.inline_noise += len(raw) - len(raw.translate(None, _CONTAINER_BYTES))
            return array
        if code == EXT_SCALAR:
            meta = _unpack_meta(data)
            if type(meta) is not list or len(meta) != 2 or type(meta[1]) is not bytes:
                raise WireError(f"scalar extension must hold [dtype, bytes], got {show(meta)}")
            dtype_str, raw = meta
            dtype = _parse_dtype(dtype_str)
            if len(raw) != dtype.itemsize:
                raise WireError(f"scalar of dtype {dtype_str} needs {dtype.itemsize} bytes, got {len(raw)}")
            return np.frombuffer(raw, dtype)[0]
        if code == EXT_TUPLE:
            # Bounded by hand: every tuple level is a nested unpackb call whose unpacking context
            # (tens of KiB) lives on the C stack, so a few hundred levels overflow the stack and
            # kill the process before any exception can be raised. msgpack has no option for it.
            if self.ext_depth >= MAX_DEPTH:
                raise WireError(f"tree nested more than {MAX_DEPTH} deep")
            self.ext_depth += 1
            try:
                items = self.unpack(data)
            finally:
                self.ext_depth -= 1
            if type(items) is not list:
                raise WireError(f"tuple extension must hold an array, got {show(items)}")
            return tuple(items)
        raise WireError(f"unknown extension type {code}")

    def unpack(self, data: Any) -> Any:
        if self.counting:
            return msgpack.unpackb(data, ext_hook=self.ext_hook, list_hook=self.count,
                                   object_hook=self.count, raw=False, strict_map_key=False,
                                   use_list=True, max_array_len=MAX_ELEMENTS,
                                   max_map_len=MAX_ELEMENTS)
        return msgpack.unpackb(data, ext_hook=self.ext_hook, raw=False, strict_map_key=False,
                               use_list=True)


# A header of at most this many bytes holds fewer than MAX_ELEMENTS elements (each takes a byte at
# least), and its containers are counted from its bytes instead of by hooks: every array, map and
# extension begins with one of _CONTAINER_BYTES, so the number of those bytes (some may be inside
# strings or numbers: it over-counts) bounds the nesting depth.
_UNCOUNTED_BYTES = 64 * 1024
_CONTAINER_BYTES = bytes([*range(0x80, 0xA0), 0xC7, 0xC8, 0xC9, 0xD4, 0xD5, 0xD6, 0xD7, 0xD8,
                          0xDC, 0xDD, 0xDE, 0xDF])


# msgpack decodes its own timestamp extension (-1) without calling ext_hook, from every header of
# 4, 8 or 12 bytes: fixext 4 and 8, and ext 8, 16 and 32 with those lengths (non-canonical, but
# decoded all the same). A header holding none of these holds no timestamp, and one that does (or
# might: they could sit inside a string) is walked.
_TIMESTAMP_HEADERS = re.compile(rb"[\xd6\xd7]\xff|\xc7[\x04\x08\x0c]\xff|\xc8\x00[\x04\x08\x0c]\xff"
                                rb"|\xc9\x00\x00\x00[\x04\x08\x0c]\xff")


def _may_hold_timestamp(raw: bytes) -> bool:
    # one byte is found fastest; the headers are rarely searched for
    return b"\xff" in raw and _TIMESTAMP_HEADERS.search(raw) is not None


def _audit(tree: Any, depth: int = 1) -> None:
    """Walk a decoded tree (without recursion): refuse timestamps and nesting beyond MAX_DEPTH.
    `depth` is the tree's own depth within the message."""
    stack = [(tree, depth)]
    while stack:
        node, depth = stack.pop()
        if type(node) is msgpack.Timestamp:
            raise WireError("unknown extension type -1 (msgpack timestamp): send a float, an int "
                            "or a datetime64 scalar instead")
        kind = type(node)
        if kind is dict:
            items: Any = [*node.keys(), *node.values()]
        elif kind is list or kind is tuple:
            items = node
        else:
            continue
        if depth > MAX_DEPTH:
            raise WireError(f"tree nested more than {MAX_DEPTH} deep")
        stack.extend((item, depth + 1) for item in items
                     if type(item) in (dict, list, tuple, msgpack.Timestamp))


_DTYPE_SYNTAX = re.compile(r"[<>|=]?(?:[biufc][0-9]{1,2}|[SU][0-9]{1,10}|[Mm]8\[[a-zA-Z]{1,2}\])")
# Type strings already parsed. The number dtypes as encoders write them are there from the start,
# so that a peer who fills the bounded rest with strings of its own slows nobody's arrays.
_dtype_cache: dict[str, np.dtype] = {dtype_str: dtype for dtype, dtype_str in _sendable.items()}
_DTYPE_CACHE_MAX = len(_dtype_cache) + 256


def _parse_dtype(dtype_str: Any) -> np.dtype:
    dtype = _dtype_cache.get(dtype_str) if type(dtype_str) is str else None
    if dtype is not None:
        return dtype
    if type(dtype_str) is not str or not 0 < len(dtype_str) <= MAX_DTYPE_CHARS:
        raise WireError(f"dtype must be a string of at most {MAX_DTYPE_CHARS} characters, "
                        f"got {show(dtype_str)}")
    if not _DTYPE_SYNTAX.fullmatch(dtype_str):  # numpy's parser sees array-interface strings only
        raise WireError(f"unknown dtype {dtype_str!r}: it cannot travel on the wire, which takes "
                        f"array-interface type strings of the portable dtypes ({PORTABLE_DTYPES})")
    try:
        dtype = np.dtype(dtype_str)
    except Exception as exc:  # numpy's parser raises TypeError, ValueError, SyntaxError...
        raise WireError(f"unknown dtype {dtype_str!r}") from exc
    _check_dtype(dtype)
    if len(_dtype_cache) < _DTYPE_CACHE_MAX:  # bounded: a peer could send endless distinct strings
        _dtype_cache[dtype_str] = dtype
    return dtype


def _array_from_frame(buffers: Sequence[Any], index: Any, dtype_str: Any, shape: Any) -> np.ndarray:
    if type(index) is not int or not 0 <= index < len(buffers):
        raise WireError(f"array refers to buffer frame {_short.repr(index)} but the message has "
                        f"{len(buffers)}")
    return _array_from_bytes(_frame_bytes(buffers[index]), dtype_str, shape, f"buffer frame {index}")


def _array_from_bytes(buf: Any, dtype_str: Any, shape: Any, where: str) -> np.ndarray:
    """A read-only array over `buf` (a frame's or the header's bytes), after checking that the
    dtype is portable and the bytes are exactly what dtype and shape need."""
    if type(shape) is not list or len(shape) > MAX_NDIM or not all(type(n) is int and n >= 0 for n in shape):
        raise WireError(f"array shape must be a list of at most {MAX_NDIM} non-negative ints, got {show(shape)}")
    dtype = _parse_dtype(dtype_str)
    expected = dtype.itemsize * math.prod(shape)
    if len(buf) != expected:
        raise WireError(f"{where} holds {len(buf)} bytes but dtype {dtype_str} and shape {shape} need {expected}")
    return np.frombuffer(buf, dtype).reshape(shape)


def encode_tree(tree: Any) -> list[Any]:
    """Encode a bare tree as [msgpack bytes, buffers...] (used for stream payloads and tests)."""
    encoder = _Encoder()
    head = encoder.pack(tree)
    return [head, *encoder.buffers]


def decode_tree(frames: Sequence[Any]) -> Any:
    """Inverse of encode_tree."""
    if not frames:
        raise WireError("empty message")
    if len(frames) - 1 > MAX_FRAMES:
        raise WireError(f"message has {len(frames) - 1} buffer frames; at most {MAX_FRAMES} may follow")
    head = _frame_bytes(frames[0])
    raw = head if type(head) is bytes else bytes(head)
    counting = len(raw) > _UNCOUNTED_BYTES
    decoder = _Decoder(frames[1:], counting)
    try:
        tree = decoder.unpack(raw)
    except WireError:
        raise
    except Exception as exc:  # msgpack raises a zoo of types on garbage; all mean "malformed"
        raise WireError(f"malformed msgpack: {exc}") from exc
    if len(decoder.frames_used) != len(frames) - 1:
        raise WireError(f"message has {len(frames) - 1} buffer frames but its arrays refer to "
                        f"{len(decoder.frames_used)}")
    if counting:
        containers = decoder.containers
    else:
        containers = len(raw) - len(raw.translate(None, _CONTAINER_BYTES)) - decoder.inline_noise
    # Within one unpackb msgpack nests up to 1024 deep; only a tree with more containers than
    # MAX_DEPTH can nest deeper than that, and only then is the walk worth its cost.
    if containers > MAX_DEPTH or type(tree) is msgpack.Timestamp or _may_hold_timestamp(raw):
        _audit(tree)
    return tree


# -- the fast path -------------------------------------------------------------------------------
# Most messages are small and well formed. They are decoded by msgspec, whose C decoder checks the
# header's keys and types itself (no Python per field) while the extensions are checked here. The
# fast path only ever accepts: whatever it does not take in full (a header over _UNCOUNTED_BYTES,
# possible timestamps, a dtype not seen yet, any failed check) goes to the checked path above, which
# decides and words every error. So both paths accept the same messages with the same values, which
# tests/control/bus/test_wire_fast.py checks property by property.

class _FastHeader(msgspec.Struct, forbid_unknown_fields=True):
    v: int
    kind: str
    id: int | None = None
    method: str | None = None
    deadline: int | float | None = None
    body: Any = None


class _Refused(Exception):
    """The fast path does not take this message: the checked path decides."""


_Shape = Annotated[list[Annotated[int, msgspec.Meta(ge=0)]], msgspec.Meta(max_length=MAX_NDIM)]
_inline_meta = msgspec.msgpack.Decoder(tuple[str, _Shape, bytes])
_frame_meta = msgspec.msgpack.Decoder(tuple[int, str, _Shape])
_scalar_meta = msgspec.msgpack.Decoder(tuple[str, bytes])


class _FastDecoder:
    """The fast path of one thread: msgspec decoders whose extension hook is this object's `ext`,
    with the state of the message being decoded (one Python call per extension, no lookups)."""

    def __init__(self) -> None:
        self.header = msgspec.msgpack.Decoder(_FastHeader, ext_hook=self.ext)
        self.items = msgspec.msgpack.Decoder(list[Any], ext_hook=self.ext)
        self.buffers: Sequence[Any] = ()
        self.frames_used: set[int] = set()
        self.tuples: dict[int, tuple] = {}  # the tuples made from ext 3 by id (held: ids stay unique)
        self.ext_depth = 0
        self.busy = False
        stack = _thread_stack_bytes()  # one decoder per thread: its thread's stack, once
        self.stack_is_large = stack is not None and stack >= _FAST_STACK

    def decode(self, head: bytes, buffers: Sequence[Any]) -> tuple[_FastHeader, dict[int, tuple]]:
        """The header, and the tuples its extensions made (by id, for _unsound)."""
        self.buffers, self.frames_used, self.tuples, self.ext_depth = buffers, set(), {}, 0
        self.busy = True
        try:
            header = self.header.decode(head)
            tuples = self.tuples
        finally:  # no received frame outlives its message here
            self.buffers, self.tuples, self.busy = (), {}, False
        if len(self.frames_used) != len(buffers):
            raise _Refused
        return header, tuples

    def ext(self, code: int, data: memoryview) -> Any:
        if code == EXT_INLINE_NDARRAY:
            dtype_str, shape, raw = _inline_meta.decode(data)
            return _fast_array(raw, dtype_str, shape)
        if code == EXT_SCALAR:
            dtype_str, raw = _scalar_meta.decode(data)
            dtype = _dtype_cache.get(dtype_str)
            if dtype is None or len(raw) != dtype.itemsize:
                raise _Refused
            return np.frombuffer(raw, dtype)[0]
        if code == EXT_TUPLE:
            if self.ext_depth >= MAX_DEPTH:  # each level is a nested decode on the C stack
                raise _Refused
            self.ext_depth += 1
            try:
                items = tuple(self.items.decode(data))
            finally:
                self.ext_depth -= 1
            self.tuples[id(items)] = items
            return items
        if code == EXT_NDARRAY:
            index, dtype_str, shape = _frame_meta.decode(data)
            if index in self.frames_used or not 0 <= index < len(self.buffers):
                raise _Refused
            self.frames_used.add(index)
            return _fast_array(_frame_bytes(self.buffers[index]), dtype_str, shape)
        raise _Refused


def _fast_array(buf: Any, dtype_str: str, shape: list[int]) -> np.ndarray:
    dtype = _dtype_cache.get(dtype_str)
    if dtype is None or len(buf) != dtype.itemsize * math.prod(shape):
        raise _Refused  # a dtype not seen yet is parsed and cached by the checked path
    array = np.frombuffer(buf, dtype)  # positional: the keyword costs 0.2 us a call
    return array if len(shape) == 1 else array.reshape(shape)


_CONTAINERS = (dict, list, tuple)


def _unsound(node: dict | list | tuple, depth: int, tuples: dict[int, tuple]) -> bool:
    """Does a container at `depth` hold what the checked path refuses: containers nested beyond
    MAX_DEPTH (map keys count: tuples can be keys), or a map key that was a msgpack array (msgspec
    makes it a tuple; msgpack refuses it as unhashable)? `tuples`: the tuples the extension hook
    made, by id. Written flat, recursion bounded by MAX_DEPTH."""
    if depth > MAX_DEPTH:
        return True
    if type(node) is dict:
        for key, value in node.items():
            if type(key) is tuple and (id(key) not in tuples or _unsound(key, depth + 1, tuples)):
                return True
            kind = type(value)
            if (kind is dict or kind is list or kind is tuple) and _unsound(value, depth + 1, tuples):
                return True
        return False
    for item in node:
        kind = type(item)
        if (kind is dict or kind is list or kind is tuple) and _unsound(item, depth + 1, tuples):
            return True
    return False


# msgspec nests up to Python's recursion limit on the C stack, a few hundred bytes a level (as json
# and pickle do); the checked path bounds its own depth. So the fast path runs only on threads
# where 1,000 levels fit, a stack of 1 MiB or more (glibc's threads get 8 MiB; musl's 128 KiB, a
# program may set threading.stack_size lower), and with the recursion limit not raised beyond
# _FAST_RECURSION. Elsewhere every message takes the checked path.
_FAST_STACK = 1024 * 1024
_FAST_RECURSION = 3000


def _thread_stack_bytes() -> int | None:
    """The calling thread's stack size, from pthread_getattr_np (None where it cannot be read).
    threading.stack_size() cannot tell: it is the size for threads yet to come, and asking it
    without an argument sets that to the default. No library reads it, hence ctypes."""
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        libc.pthread_self.restype = ctypes.c_ulong  # pthread_t: not an int
        libc.pthread_getattr_np.argtypes = (ctypes.c_ulong, ctypes.c_void_p)
        attr = ctypes.create_string_buffer(256)  # pthread_attr_t: 56 bytes on x86-64, 64 on arm64
        if libc.pthread_getattr_np(libc.pthread_self(), attr) != 0:
            return None
        size = ctypes.c_size_t()
        try:
            ok = libc.pthread_attr_getstacksize(attr, ctypes.byref(size)) == 0
        finally:
            libc.pthread_attr_destroy(attr)
        return size.value if ok else None
    except (OSError, AttributeError):
        return None


_fast = threading.local()  # each thread's _FastDecoder and _FastEncoder


def _fast_decode(frames: Sequence[Any]) -> Message | None:
    """The message, or None where the checked path must decide."""
    if not frames or len(frames) - 1 > MAX_FRAMES:
        return None
    head = frames[0]
    head = head.bytes if isinstance(head, zmq.Frame) else bytes(head)  # a copy of <= 64 KiB: cheap
    if len(head) > _UNCOUNTED_BYTES or _may_hold_timestamp(head) or sys.getrecursionlimit() > _FAST_RECURSION:
        return None
    decoder = getattr(_fast, "decoder", None)
    if decoder is None:
        decoder = _fast.decoder = _FastDecoder()
    if decoder.busy or not decoder.stack_is_large:  # busy: a decode inside a decode (a signal
        return None                                 # handler's): the checked path, own state
    try:
        header, tuples = decoder.decode(head, frames[1:])
    except Exception:  # _Refused, msgspec's errors, anything: the checked path says what it was
        return None
    if header.v != PROTOCOL_VERSION:
        return None
    kind, req_id, method, deadline = header.kind, header.id, header.method, header.deadline
    if kind == CALL:
        if req_id is None or not method or (deadline is not None and not math.isfinite(deadline)):
            return None
    elif kind not in KINDS or method is not None or deadline is not None:
        return None
    body = header.body
    if type(body) in _CONTAINERS and _unsound(body, 2, tuples):  # the header map is depth 1
        return None
    return Message(kind=kind, id=req_id, method=method, deadline=deadline, body=body)


def encode(message: Message) -> list[Any]:
    """Encode a message into frames ready for `socket.send_multipart(frames, copy=False)`."""
    header = {"v": PROTOCOL_VERSION, "kind": message.kind, "id": message.id,
              "method": message.method, "deadline": message.deadline, "body": message.body}
    if _shallow(message.body, 3):
        encoder = getattr(_fast, "encoder", None)
        if encoder is None:
            encoder = _fast.encoder = _FastEncoder()
        if not encoder.busy:  # (busy: an encode inside an encode, a signal handler's: checked way)
            try:
                return encoder.encode(header)
            except Exception:  # an int out of range, a dtype that cannot travel: the checked way says
                pass
    return encode_tree(header)


# -- the fast encoding path -----------------------------------------------------------------------
# msgspec packs a header in a third of msgpack's time, byte for byte the same, calling the hook
# below for numpy values (exact types only: np.float64 and np.str_ too, though they subclass float
# and str). What it would pack differently, the fast path never gets: tuples (a msgpack array for
# msgspec, ext 3 here), subclasses of dict, list or ndarray (strict here). `_shallow` admits only
# trees without them, a few levels deep and a few dozen items wide,
# so that looking costs less than it saves. tests/control/bus/test_wire_fast.py holds both ways to
# the same bytes.
_PLAIN = frozenset({type(None), bool, int, float, str, bytes})
_SHALLOW_ITEMS = 64


def _shallow(value: Any, levels: int) -> bool:
    # Written flat: a generator or a helper call per item would cost more than the look saves.
    kind = type(value)
    if kind in _PLAIN or kind is np.ndarray:
        return True
    if kind is dict:
        for key in value:
            if type(key) is not str:
                return False
        items: Any = value.values()
    elif kind is list:
        items = value
    else:
        return isinstance(value, np.generic)
    if levels == 1 or len(value) > _SHALLOW_ITEMS:
        return False
    for item in items:
        kind = type(item)
        if kind in _PLAIN or kind is np.ndarray:
            continue
        if not _shallow(item, levels - 1):
            return False
    return True


class _FastEncoder:
    """The fast encoding path of one thread: a msgspec encoder whose hook is this object's `ext`,
    collecting the large arrays of the message being encoded into frames of their own."""

    def __init__(self) -> None:
        self.encoder = msgspec.msgpack.Encoder(enc_hook=self.ext)
        self.buffers: list[np.ndarray] = []
        self.busy = False

    def encode(self, header: dict) -> list[Any]:
        self.buffers, self.busy = [], True
        try:
            return [self.encoder.encode(header), *self.buffers]
        finally:
            self.buffers, self.busy = [], False

    def ext(self, obj: Any) -> msgspec.msgpack.Ext:
        numpy_ext = _numpy_ext(obj, self.buffers)  # _shallow let only numpy values get here
        if numpy_ext is None:
            raise _Refused
        return msgspec.msgpack.Ext(*numpy_ext)


def _frame_bytes(frame: Any) -> Any:
    """The frame's memory as bytes or a byte memoryview (a zmq.Frame exposes it as .buffer)."""
    return frame.buffer if isinstance(frame, zmq.Frame) else frame


def decode(frames: Sequence[Any]) -> Message:
    """Decode frames into a Message, raising WireError (or UnsupportedVersion) on anything off.

    Every header field is type-checked here (docs/protocol.md, "Header"); `type(x) is int` and not
    isinstance, because msgpack's true is a Python bool, and bool is an int. A well-formed message
    is taken by the fast path first (above); this checked path decides everything else.
    """
    message = _fast_decode(frames)
    return message if message is not None else _decode_checked(frames)


def _decode_checked(frames: Sequence[Any]) -> Message:
    header = decode_tree(frames)
    if type(header) is not dict:
        raise WireError(f"header must be a msgpack map, got {type(header).__name__}")
    version = header.get("v")
    if type(version) is not int or version != PROTOCOL_VERSION:
        raise UnsupportedVersion(f"protocol version {show(version)} is not supported "
                                 f"(this side speaks {PROTOCOL_VERSION}, an int)")
    if len(header) > len(HEADER_KEYS) or not HEADER_KEYS.issuperset(header):
        unknown = [key for key in header if key not in HEADER_KEYS]
        raise WireError(f"unknown header keys {show(unknown)}; the keys are {sorted(HEADER_KEYS)}")
    kind = header.get("kind")
    if type(kind) is not str or kind not in KINDS:
        raise WireError(f"unknown message kind {show(kind)}; expected one of {sorted(KINDS)}")
    req_id, method, deadline = header.get("id"), header.get("method"), header.get("deadline")
    if req_id is not None and type(req_id) is not int:
        raise WireError(f"id must be an integer or nil, got {show(req_id)}")
    if kind == CALL:
        if req_id is None:
            raise WireError("a call must carry an integer id")
        if type(method) is not str or not method:
            raise WireError(f"method must be a string (non-empty; a call must name its method), got {show(method)}")
        if deadline is not None and (type(deadline) not in (float, int) or not math.isfinite(deadline)):
            raise WireError(f"deadline must be a number (finite, Unix seconds) or nil, got {show(deadline)}")
    elif method is not None or deadline is not None:
        raise WireError(f"a {kind} message carries no method or deadline (they must be nil)")
    return Message(kind=kind, id=req_id, method=method, deadline=deadline, body=header.get("body"))


def peek_id(frames: Sequence[Any]) -> int | None:
    """The request id of a message being refused, if it can be read at all (so the caller can
    match the error reply). Reads the header map key by key, skipping values without building
    them: a refused message may be too large, too deep or too long to decode."""
    try:
        unpacker = msgpack.Unpacker(raw=False, max_buffer_size=0, max_str_len=64, max_bin_len=64,
                                    max_array_len=16, max_map_len=16, max_ext_len=64)
        unpacker.feed(_frame_bytes(frames[0]))
        for _ in range(min(unpacker.read_map_header(), 16)):
            if unpacker.unpack() == "id":
                req_id = unpacker.unpack()
                return req_id if type(req_id) is int else None
            unpacker.skip()
    except Exception:  # anything unreadable simply has no id
        return None
    return None


def message_size(frames: Sequence[Any]) -> int:
    """Total payload bytes of a multipart message (frames received from zmq, or bytes)."""
    return sum(map(len, frames))
