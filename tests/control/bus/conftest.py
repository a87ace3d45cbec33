"""Shared by the bus tests that talk to a server as a raw peer would."""
from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
import zmq

from control.bus import wire


def call_header(**fields) -> dict:
    """A valid call header (`add(1, 2)`) with `fields` replaced; a field set to ... is left out."""
    base = {"v": 1, "kind": "call", "id": 9, "method": "add", "deadline": None,
            "body": {"args": [1, 2], "kwargs": {}}}
    base.update(fields)
    return {k: v for k, v in base.items() if v is not ...}


@contextlib.contextmanager
def raw_dealer(endpoint: str, timeout_ms: int = 3000) -> Iterator[zmq.Socket]:
    """A DEALER socket connected to `endpoint` that sends whatever frames a test gives it."""
    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.linger, sock.rcvtimeo = 0, timeout_ms
    sock.connect(endpoint)
    try:
        yield sock
    finally:
        sock.close()


def reply_to(sock: zmq.Socket, frames: list[bytes]) -> wire.Message | None:
    """Send `frames` and decode the answer; None if none came within the socket's timeout."""
    sock.send_multipart(frames)
    try:
        return wire.decode(sock.recv_multipart())
    except zmq.Again:
        return None


def assert_same(fast, checked) -> None:
    """Equal values of exactly the same types, arrays compared by dtype, shape and bytes."""
    assert type(fast) is type(checked), (fast, checked)
    if isinstance(fast, (np.ndarray, np.generic)):
        assert (fast.dtype, fast.shape, fast.tobytes()) == (checked.dtype, checked.shape, checked.tobytes())
    elif isinstance(fast, dict):
        assert list(map(repr, fast)) == list(map(repr, checked))
        for key_fast, key_checked in zip(fast, checked):
            assert_same(key_fast, key_checked)
            assert_same(fast[key_fast], checked[key_checked])
    elif isinstance(fast, (list, tuple)):
        assert len(fast) == len(checked)
        for a, b in zip(fast, checked):
            assert_same(a, b)
    elif isinstance(fast, float) and fast != fast:
        assert checked != checked  # NaN
    else:
        assert fast == checked
