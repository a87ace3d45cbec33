"""Coverage-guided fuzzing (atheris, libFuzzer) of what a server does with a peer's frames.

Run it from the checkout's root, with atheris installed (`pip install -e '.[fuzz]'`); new inputs go
to the first directory (a scratch one), the committed seeds are only read:

    mkdir -p /tmp/wire_decode_corpus /tmp/wire_decode_crashes
    nice -n 5 .venv/bin/python tests/fuzz/wire_decode.py -max_total_time=600 -rss_limit_mb=2048 \
        -dict=tests/fuzz/wire_decode.dict -artifact_prefix=/tmp/wire_decode_crashes/ \
        /tmp/wire_decode_corpus tests/fuzz/corpus/wire_decode

A crash file it writes is replayed with `.venv/bin/python tests/fuzz/wire_decode.py CRASH_FILE`.
`.venv/bin/python tests/fuzz/wire_decode.py --make-corpus` rewrites the seeds (valid messages made by
wire.encode); tests/control/bus/test_fuzz_corpus.py runs every seed through `one_input` (no atheris
needed: it is imported only when this file runs as a script).

One input is split into 1-4 frames (`split`): byte 0 gives the frame count (bits 0-1) and whether
the frames arrive as zmq.Frame objects, as a server receives them, or as bytes (bit 2); then come
a 2-byte little-endian length for each buffer frame, the buffer frames, and the header frame (all
the rest). `one_input` follows Server._serve_one (control/bus/rpc.py) up to the method lookup:
message_size, wire.decode, on a WireError peek_id and the error reply's encoding, else the call
body's arguments (rpc._call_arguments) and the reply echoing the body. Only podium's documented
errors (PodiumError: WireError, UnsupportedVersion...) are expected; anything else escaping, a
broken invariant (AssertionError) or a crash is a finding.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests" / "fuzz" / "corpus" / "wire_decode"

if ROOT.as_posix() not in sys.path:
    sys.path.insert(0, ROOT.as_posix())

if __name__ == "__main__" and "--make-corpus" not in sys.argv:
    import atheris

    with atheris.instrument_imports(include=["control", "msgpack", "msgspec"]):
        import msgpack  # noqa: F401 (imported first so that it is instrumented; wire uses it)
        import numpy as np
        import zmq

        from control.bus import rpc, wire
        from control.errors import PodiumError, WireError, error_type_name
        from tests.control.bus.conftest import assert_same
else:
    import numpy as np
    import zmq

    from control.bus import rpc, wire
    from control.errors import PodiumError, WireError, error_type_name
    from tests.control.bus.conftest import assert_same

MAX_FRAMES = 4


def split(data: bytes) -> list[Any]:
    """The frames one fuzz input stands for (see the module's docstring)."""
    if not data:
        return [b""]
    count, as_zmq = (data[0] & 3) + 1, bool(data[0] & 4)
    pos, lengths = 1, []
    for _ in range(count - 1):
        lengths.append(int.from_bytes(data[pos:pos + 2], "little"))
        pos += 2
    buffers = []
    for length in lengths:
        buffers.append(data[pos:pos + length])
        pos += len(buffers[-1])
    frames = [data[pos:], *buffers]
    return [zmq.Frame(f) for f in frames] if as_zmq else frames


def join(frames: list[bytes], as_zmq: bool = False) -> bytes:
    """Inverse of split: the fuzz input for a message's frames (header first, as wire.encode)."""
    if not 1 <= len(frames) <= MAX_FRAMES or any(len(f) > 0xFFFF for f in frames[1:]):
        raise ValueError("1-4 frames, buffer frames of at most 64 KiB - 1")
    head, *buffers = (bytes(memoryview(f).cast("B")) for f in frames)
    return (bytes([len(frames) - 1 | (4 if as_zmq else 0)])
            + b"".join(len(b).to_bytes(2, "little") for b in buffers) + b"".join(buffers) + head)


def one_input(data: bytes) -> None:
    """What a server does with one peer message, up to calling the method; raises on a finding."""
    frames = split(data)
    wire.message_size(frames)
    try:
        message = wire.decode(frames)
    except WireError as exc:
        req_id = wire.peek_id(frames)
        assert req_id is None or type(req_id) is int, req_id
        # The error reply the server sends: its message is built from what the peer sent.
        reply = {"type": error_type_name(exc),
                 "message": str(exc.args[0]) if len(exc.args) == 1 else str(exc), "traceback": None}
        wire.decode(wire.encode(wire.Message(wire.ERROR, req_id, body=reply)))
        return
    # The fast path accepts only what the checked path accepts, with the same values.
    fast = wire._fast_decode(frames)
    if fast is not None:
        checked = wire._decode_checked(frames)
        for field in ("kind", "id", "method", "deadline", "body"):
            assert_same(getattr(fast, field), getattr(checked, field))
    # What decode promises (docs/protocol.md, "Header").
    assert type(message) is wire.Message
    assert message.kind in wire.KINDS, message.kind
    assert message.id is None or type(message.id) is int, message.id
    if message.kind == wire.CALL:
        assert message.id is not None
        assert type(message.method) is str and message.method, message.method
        assert message.deadline is None or type(message.deadline) in (int, float), message.deadline
        try:
            args, kwargs = rpc._call_arguments(message.body)
        except PodiumError:
            pass
        else:
            assert type(args) is list and type(kwargs) is dict
    else:
        assert message.method is None and message.deadline is None
    # A service echoing what it was sent (podium echo) replies with the decoded body.
    try:
        echoed = wire.encode(wire.Message(wire.REPLY, message.id, body=message.body))
    except PodiumError:
        return
    # ... and the fast encoder writes the checked encoder's bytes.
    header = {"v": 1, "kind": wire.REPLY, "id": message.id, "method": None, "deadline": None,
              "body": message.body}
    assert _bytes(echoed) == _bytes(wire.encode_tree(header))
    wire.decode(echoed)


def _bytes(frames: list[Any]) -> list[bytes]:
    return [bytes(memoryview(f).cast("B")) for f in frames]


def TestOneInput(data: bytes) -> None:
    try:
        one_input(data)
    except PodiumError:
        pass


def seeds() -> dict[str, bytes]:
    """Valid messages of every kind, with arrays, scalars, tuples and nested maps."""
    f4 = np.arange(6, dtype="<f4").reshape(2, 3)
    obs = {"screenshot": np.zeros((2, 2, 3), np.uint8), "elements": [{"class_name": "Button",
           "bounds": [0, 0, 10, 10], "text": "OK", "clickable": True}], "screen_size": [10, 10],
           "timestamp": 1764021600.25}
    messages = {
        "call_ping": wire.Message(wire.CALL, 1, "_podium.ping", None, {"args": [], "kwargs": {}}),
        "call_add": wire.Message(wire.CALL, 7, "add", 1764021600.25, {"args": [2, 3], "kwargs": {}}),
        "call_int_deadline": wire.Message(wire.CALL, 2**40, "step", 1764021600, {"args": [[1, -2]]}),
        "call_no_body": wire.Message(wire.CALL, 3, "reset"),
        "call_array": wire.Message(wire.CALL, 8, "scale", None, {"args": [np.arange(3, dtype="<f4")],
                                                                 "kwargs": {"factor": 2.5}}),
        "call_arrays": wire.Message(wire.CALL, 9, "step", 1.5, {
            "args": [f4, np.array([True, False])], "kwargs": {"mask": np.arange(4, dtype=">i8")}}),
        "call_tuples": wire.Message(wire.CALL, 10, "echo", None, {
            "args": [(1, (2.0, "x", (b"y", None)), ()), ((True,),)], "kwargs": {"t": (np.int16(3),)}}),
        "call_scalars": wire.Message(wire.CALL, 11, "echo", None, {"args": [
            np.float32(1.5), np.int64(-9), np.bool_(True), np.complex128(1 - 2j), np.uint8(255),
            np.float16(0.5), np.datetime64("2026-12-01T00:00", "s"), np.timedelta64(3, "ms"),
            np.str_("héllo"), np.bytes_(b"ab")], "kwargs": {}}),
        "call_nested_dicts": wire.Message(wire.CALL, 12, "configure", None, {"args": [], "kwargs": {
            "a": {"b": {"c": {"d": [1, {"e": None}]}}}, "f": {1: "int key", 2.5: "float key"}}}),
        "reply_value": wire.Message(wire.REPLY, 7, body=5),
        "reply_array": wire.Message(wire.REPLY, 8, body=np.arange(6, dtype="<i8").reshape(3, 2)),
        # beyond wire.INLINE_MAX_BYTES: the array travels in a buffer frame of its own
        "reply_frame_array": wire.Message(wire.REPLY, 15, body=[np.arange(520, dtype="<f8"), np.ones(3, "<f4")]),
        "reply_step": wire.Message(wire.REPLY, 9, body=(obs, 1.0, False, False, {"t": np.float64(2)})),
        "reply_strings": wire.Message(wire.REPLY, 13, body={
            "u": np.array(["ab", "c"], dtype="<U2"), "s": np.array([b"xyz"], dtype="|S3"),
            "when": np.array(["2026-12-01"], dtype="<M8[D]")}),
        "reply_empty": wire.Message(wire.REPLY, 14, body=[np.zeros((0, 3), "<c8"), "", b"", [], {}]),
        "reply_deep": wire.Message(wire.REPLY, 15, body=_nest(60)),
        "reply_deep_tuples": wire.Message(wire.REPLY, 16, body=_nest(60, tuple)),
        "error_value": wire.Message(wire.ERROR, 7, body={"type": "ValueError", "message": "bad",
                                                         "traceback": "Traceback...\n"}),
        "error_no_id": wire.Message(wire.ERROR, None, body={"type": "WireError",
                                                           "message": "malformed", "traceback": None}),
        "heartbeat": wire.Message(wire.HEARTBEAT, None, body={
            "name": "echo:0", "kind": "echo", "endpoint": "tcp://127.0.0.1:5771", "capabilities": {},
            "pid": 1234, "host": "box", "instance": "abc123"}),
        "publish": wire.Message(wire.PUBLISH, None, body={"topic": "obs", "seq": 3,
                                                          "value": {"x": np.ones(2, "<f8")}}),
    }
    out = {name: join(wire.encode(m)) for name, m in messages.items()}
    out["call_array_zmq_frames"] = join(wire.encode(messages["call_arrays"]), as_zmq=True)
    # A header over 64 KiB: decode counts its containers with hooks instead of from its bytes.
    counted = {"blob": bytes(65600), "rows": [[i] for i in range(40)], "t": ((1, 2), np.int8(3))}
    out["reply_counted"] = join(wire.encode(wire.Message(wire.REPLY, 17, body=counted)))
    return out


def _nest(depth: int, kind: type = list) -> Any:
    """Containers `depth` deep inside the body (the header map and the reply's body count too)."""
    tree: Any = 1
    for _ in range(depth):
        tree = kind([tree])
    return tree


def make_corpus() -> None:
    CORPUS.mkdir(parents=True, exist_ok=True)
    for old in CORPUS.iterdir():
        old.unlink()
    for name, data in seeds().items():
        one_input(data)  # a seed must pass the target (and decode: checked by the corpus test)
        (CORPUS / name).write_bytes(data)
    print(f"wrote {len(seeds())} seeds to {CORPUS}")


if __name__ == "__main__":
    if "--make-corpus" in sys.argv:
        make_corpus()
    else:
        atheris.Setup(sys.argv, TestOneInput)
        atheris.Fuzz()
