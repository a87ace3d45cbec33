"""Where case b of bench/bus.py spends its extra time: the same round trip against peers that add
one part of podium at a time, in one run (interleaved blocks, p50 and ratio to the raw peer).

    raw 1 frame          bench/bus.py's raw ROUTER: one frame each way, no decoding
    raw 2 frames         a raw ROUTER and DEALER exchanging podium's frames, prebuilt
    podium server        podium's Server; the client sends prebuilt frames and does not decode
    podium               podium's Server and Client
    raw + Python N       the raw ROUTER running a fixed piece of Python before each reply, to
                         compare its cost in a ping-pong with its cost in a hot loop
    lean msgpack         a bound for any msgpack design in Python: a header map with the array
                         inline, packed and unpacked with no validation, dispatch by dict, bytes
                         frames (no zmq.Frame objects); not safe to serve peers, only a floor

Run it on a quiet machine (both processes need a core):  python bench/bus_split.py
"""
from __future__ import annotations

import multiprocessing as mp
import time
import timeit

import msgpack
import numpy as np
import zmq

import bench.bus as bus
from control.bus import wire


def python_work(n: int) -> dict:
    table: dict = {}
    for i in range(n):
        table[i & 7] = (i, str(i))
    return table


def frames_server(endpoint: str, ready, work: int) -> None:
    """A raw ROUTER answering with podium's reply frames (prebuilt), after `work` of Python."""
    sock = zmq.Context.instance().socket(zmq.ROUTER)
    sock.bind(endpoint)
    reply = [bytes(f) for f in wire.encode(wire.Message(wire.REPLY, 1, body=np.zeros(bus.ACTION, np.float32)))]
    ready.set()
    while True:
        parts = sock.recv_multipart(copy=False)
        python_work(work)
        sock.send_multipart([parts[0], *reply], copy=False)


def frames_caller(endpoint: str):
    """A raw DEALER sending podium's call frames (prebuilt) and not decoding the reply."""
    frames = [bytes(f) for f in wire.encode(wire.Message(
        wire.CALL, 1, "act", time.time() + 1e6, {"args": [np.zeros(bus.OBS, np.float32)], "kwargs": {}}))]
    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.connect(endpoint)

    def call() -> None:
        sock.send_multipart(frames, copy=False)
        sock.recv_multipart(copy=False)
    return call


def _lean_array(code: int, data: bytes) -> np.ndarray:
    dtype, shape, raw = msgpack.unpackb(data)
    return np.frombuffer(raw, dtype).reshape(shape)


def _lean_ext(array: np.ndarray) -> msgpack.ExtType:
    meta = [array.dtype.str, list(array.shape), array.tobytes()]
    return msgpack.ExtType(wire.EXT_INLINE_NDARRAY, msgpack.packb(meta))


def lean_server(endpoint: str, ready) -> None:
    """The floor: podium's header layout with nothing checked."""
    sock = zmq.Context.instance().socket(zmq.ROUTER)
    sock.bind(endpoint)
    action = np.zeros(bus.ACTION, np.float32)
    methods = {"act": lambda obs: action}
    ready.set()
    while True:
        identity, head = sock.recv_multipart()
        header = msgpack.unpackb(head, ext_hook=_lean_array, raw=False)
        result = methods[header["method"]](*header["body"]["args"])
        sock.send_multipart([identity, msgpack.packb({"v": 1, "kind": "reply", "id": header["id"], "method": None,
                                                      "deadline": None, "body": _lean_ext(result)})])


def lean_caller(endpoint: str):
    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.connect(endpoint)
    obs, ids = np.zeros(bus.OBS, np.float32), iter(range(1, 1 << 62))

    def call() -> np.ndarray:
        req_id = next(ids)
        sock.send(msgpack.packb({"v": 1, "kind": "call", "id": req_id, "method": "act", "deadline": time.time() + 10,
                                 "body": {"args": [_lean_ext(obs)], "kwargs": {}}}))
        reply = msgpack.unpackb(sock.recv(), ext_hook=_lean_array, raw=False)
        return reply["body"]
    return call


def main(blocks: int = 6, block: int = 500) -> None:
    context = mp.get_context("fork")
    port = iter(range(5921, 5999))
    endpoints, servers = {}, []

    def serve(name: str, target, *args) -> str:
        endpoint = f"tcp://127.0.0.1:{next(port)}"
        ready = context.Event()
        servers.append(context.Process(target=target, args=(endpoint, ready, *args), daemon=True))
        servers[-1].start()
        ready.wait()
        endpoints[name] = endpoint
        return endpoint

    hot = min(timeit.repeat(lambda: python_work(40), number=2000, repeat=5)) / 2000 * 1e6
    callers = {
        "raw 1 frame (peer)": bus.raw_caller(serve("raw", bus.raw_server), "b"),
        "raw 2 frames each way": frames_caller(serve("raw2", frames_server, 0)),
        "podium server, prebuilt client": frames_caller(serve("podium", bus.podium_server)),
        "podium": bus.podium_caller(endpoints["podium"], "b"),
        f"raw 2 frames + Python {hot:.1f} µs (hot)": frames_caller(serve("work40", frames_server, 40)),
        f"raw 2 frames + Python {3 * hot:.1f} µs (hot)": frames_caller(serve("work120", frames_server, 120)),
        "lean msgpack (no checks: a floor)": lean_caller(serve("lean", lean_server)),
    }
    samples: dict[str, list[np.ndarray]] = {name: [] for name in callers}
    for _ in range(blocks):
        for name, call in callers.items():
            bus.timed(call, 50)
            samples[name].append(bus.timed(call, block))
    peer = float(np.median(np.concatenate(samples["raw 1 frame (peer)"])))
    for name, parts in samples.items():
        values = np.concatenate(parts)
        p50, p99 = float(np.median(values)), float(np.percentile(values, 99))
        print(f"{name:40s} p50 {p50 * 1e6:7.1f} µs  p99 {p99 * 1e6:7.1f} µs  ratio {p50 / peer:.2f}")
    for process in servers:
        process.terminate()


if __name__ == "__main__":
    main()
