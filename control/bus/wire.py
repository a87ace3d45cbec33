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

No pickle, ever: only the types above cross the wire. Arrays over COPY_THRESHOLD bytes are sent
without copying (zmq keeps a reference to the array's memory) and received as read-only views of
the received frame.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import msgpack
import numpy as np
import zmq

from control.errors import UnsupportedVersion, WireError

PROTOCOL_VERSION = 1
COPY_THRESHOLD = 64 * 1024  # bytes; smaller frames are copied by pyzmq, which is faster for them

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


@dataclass(frozen=True, slots=True)
class Message:
    """A decoded message. `deadline` is Unix time in seconds after which the caller stops waiting."""

    kind: str
    id: int | None = None
    method: str | None = None
    deadline: float | None = None
    body: Any = None


def _check_dtype(dtype: np.dtype) -> None:
    if dtype.hasobject or dtype.fields is not None or dtype.subdtype is not None:
        raise WireError(f"arrays of dtype {dtype} cannot travel on the wire: only plain numeric, "
                        "bool, bytes/str and datetime dtypes do (no objects, no structured dtypes)")


_scalar_prefixes: dict[np.dtype, bytes] = {}


def _scalar_prefix(dtype: np.dtype) -> bytes:
    """msgpack of [dtype_str, raw_bytes] minus the raw bytes, made once per dtype by msgpack itself:
    env infos are full of numpy scalars, and packing each from scratch costs ~2 us."""
    prefix = _scalar_prefixes.get(dtype)
    if prefix is None:
        _check_dtype(dtype)
        packed = msgpack.packb([dtype.str, bytes(dtype.itemsize)], use_bin_type=True)
        prefix = _scalar_prefixes[dtype] = packed[: len(packed) - dtype.itemsize]
    return prefix


class _Encoder:
    """Packs one tree, collecting its arrays into `buffers`.

    A class rather than closures on purpose: mutually referring closures form a reference cycle
    that keeps every received frame (megabytes each) alive until the cyclic GC happens to run.
    """

    def __init__(self) -> None:
        self.buffers: list[np.ndarray] = []

    def default(self, obj: Any) -> msgpack.ExtType:
        if isinstance(obj, np.ndarray):
            _check_dtype(obj.dtype)
            flat = np.ascontiguousarray(obj).reshape(-1)
            # Viewed as bytes so that every dtype (datetime64 too) exports a plain buffer.
            self.buffers.append(flat.view(np.uint8))
            meta = [len(self.buffers) - 1, obj.dtype.str, list(obj.shape)]
            return msgpack.ExtType(EXT_NDARRAY, msgpack.packb(meta, buf_size=_BUF))
        if isinstance(obj, np.generic):
            return msgpack.ExtType(EXT_SCALAR, _scalar_prefix(obj.dtype) + obj.tobytes())
        if isinstance(obj, tuple):
            return msgpack.ExtType(EXT_TUPLE, self.pack(list(obj)))
        raise WireError(f"cannot encode a {type(obj).__module__}.{type(obj).__qualname__}: the wire "
                        "carries None, bool, int, float, str, bytes, list, tuple, dict and numpy "
                        "arrays and scalars")

    def pack(self, obj: Any) -> bytes:
        try:
            return msgpack.packb(obj, default=self.default, use_bin_type=True, strict_types=True,
                                 buf_size=_BUF)
        except WireError:
            raise
        except (OverflowError, ValueError, TypeError) as exc:
            raise WireError(f"cannot encode value: {exc}") from exc


class _Decoder:
    """Unpacks one tree whose arrays live in `buffers` (a class for the same reason as _Encoder)."""

    def __init__(self, buffers: Sequence[Any]) -> None:
        self.buffers = buffers

    def ext_hook(self, code: int, data: bytes) -> Any:
        if code == EXT_NDARRAY:
            index, dtype_str, shape = msgpack.unpackb(data)
            return _array_from_frame(self.buffers, index, dtype_str, shape)
        if code == EXT_SCALAR:
            dtype_str, raw = msgpack.unpackb(data)
            dtype = _parse_dtype(dtype_str)
            if len(raw) != dtype.itemsize:
                raise WireError(f"scalar of dtype {dtype_str} needs {dtype.itemsize} bytes, got {len(raw)}")
            return np.frombuffer(raw, dtype=dtype)[0]
        if code == EXT_TUPLE:
            return tuple(self.unpack(data))
        raise WireError(f"unknown extension type {code}")

    def unpack(self, data: Any) -> Any:
        return msgpack.unpackb(data, ext_hook=self.ext_hook, raw=False, strict_map_key=False,
                               use_list=True)


_dtype_cache: dict[str, np.dtype] = {}


def _parse_dtype(dtype_str: Any) -> np.dtype:
    dtype = _dtype_cache.get(dtype_str) if isinstance(dtype_str, str) else None
    if dtype is not None:
        return dtype
    if not isinstance(dtype_str, str):
        raise WireError(f"dtype must be a string, got {type(dtype_str).__name__}")
    try:
        dtype = np.dtype(dtype_str)
    except TypeError as exc:
        raise WireError(f"unknown dtype {dtype_str!r}") from exc
    _check_dtype(dtype)
    if len(_dtype_cache) < 256:  # bounded: a hostile peer could send endless distinct strings
        _dtype_cache[dtype_str] = dtype
    return dtype


def _array_from_frame(buffers: Sequence[Any], index: Any, dtype_str: Any, shape: Any) -> np.ndarray:
    if not isinstance(index, int) or not 0 <= index < len(buffers):
        raise WireError(f"array refers to buffer frame {index!r} but the message has {len(buffers)}")
    if not isinstance(shape, list) or not all(isinstance(n, int) and n >= 0 for n in shape):
        raise WireError(f"array shape must be a list of non-negative ints, got {shape!r}")
    dtype = _parse_dtype(dtype_str)
    buf = _frame_bytes(buffers[index])
    expected = dtype.itemsize * math.prod(shape)
    if len(buf) != expected:
        raise WireError(f"buffer frame {index} holds {len(buf)} bytes but dtype "
                        f"{dtype_str} and shape {shape} need {expected}")
    return np.frombuffer(buf, dtype=dtype).reshape(shape)


def encode_tree(tree: Any) -> list[Any]:
    """Encode a bare tree as [msgpack bytes, buffers...] (used for stream payloads and tests)."""
    encoder = _Encoder()
    head = encoder.pack(tree)
    return [head, *encoder.buffers]


def decode_tree(frames: Sequence[Any]) -> Any:
    """Inverse of encode_tree."""
    if not frames:
        raise WireError("empty message")
    try:
        return _Decoder(frames[1:]).unpack(_frame_bytes(frames[0]))
    except WireError:
        raise
    except Exception as exc:  # msgpack raises a zoo of types on garbage; all mean "malformed"
        raise WireError(f"malformed msgpack: {exc}") from exc


def encode(message: Message) -> list[Any]:
    """Encode a message into frames ready for `socket.send_multipart(frames, copy=False)`."""
    return encode_tree({"v": PROTOCOL_VERSION, "kind": message.kind, "id": message.id,
                        "method": message.method, "deadline": message.deadline,
                        "body": message.body})


def _frame_bytes(frame: Any) -> Any:
    """The frame's memory as bytes or a byte memoryview (a zmq.Frame exposes it as .buffer)."""
    return frame.buffer if isinstance(frame, zmq.Frame) else frame


def decode(frames: Sequence[Any]) -> Message:
    """Decode frames into a Message, raising WireError (or UnsupportedVersion) on anything off."""
    header = decode_tree(frames)
    if not isinstance(header, dict):
        raise WireError(f"header must be a msgpack map, got {type(header).__name__}")
    version = header.get("v")
    if version != PROTOCOL_VERSION:
        raise UnsupportedVersion(f"protocol version {version!r} is not supported "
                                 f"(this side speaks {PROTOCOL_VERSION})")
    kind = header.get("kind")
    if kind not in KINDS:
        raise WireError(f"unknown message kind {kind!r}; expected one of {sorted(KINDS)}")
    req_id, method, deadline = header.get("id"), header.get("method"), header.get("deadline")
    if req_id is not None and (not isinstance(req_id, int) or isinstance(req_id, bool)):
        raise WireError(f"id must be an integer, got {type(req_id).__name__}")
    if method is not None and not isinstance(method, str):
        raise WireError(f"method must be a string, got {type(method).__name__}")
    if deadline is not None and (not isinstance(deadline, (int, float)) or isinstance(deadline, bool)):
        raise WireError(f"deadline must be a number, got {type(deadline).__name__}")
    return Message(kind=kind, id=req_id, method=method, deadline=deadline, body=header.get("body"))


def peek_id(frames: Sequence[Any]) -> int | None:
    """The request id of a message being refused, if it can be read at all (so the caller can
    match the error reply); arrays and other extensions in the body are not looked at."""
    try:
        header = msgpack.unpackb(_frame_bytes(frames[0]), ext_hook=lambda code, data: None,
                                 raw=False, strict_map_key=False)
    except Exception:  # anything unreadable simply has no id
        return None
    req_id = header.get("id") if isinstance(header, dict) else None
    return req_id if isinstance(req_id, int) and not isinstance(req_id, bool) else None


def message_size(frames: Sequence[Any]) -> int:
    """Total payload bytes of a multipart message (frames received from zmq, or bytes)."""
    return sum(len(f) for f in frames)
