"""Where a case-b round trip of bench/bus.py spends podium's time: each stage of the server's and
the client's handling timed inside the ping-pong (perf_counter around it), beside the same stage
timed in a hot loop in one process, in one run.

    server  decode      wire.decode of the call (fast path)
            dispatch    method lookup, arguments, the method itself
            encode      wire.encode of the reply
            send        the reply's frames handed to zmq
    client  encode      wire.encode of the call
            decode      wire.decode of the reply

The in-situ stages are podium's own code: their excess over the hot loop is what this machine
charges each side's Python for running right after a wait in a ping-pong (both processes and
their zmq I/O threads share the cores). Run it on a quiet machine:  python bench/bus_stages.py
"""
from __future__ import annotations

import multiprocessing as mp
import time
import timeit

import numpy as np
import zmq
from rich.console import Console
from rich.table import Table

import bench.bus as bus
from control.bus import rpc, wire

STAGES = ("decode", "dispatch", "encode", "send")


class StageTimedServer(rpc.Server):
    """podium's Server serving case b, timing each stage of every call in place."""

    def serve_forever(self) -> None:
        self.socket.rcvtimeo = 100
        times, clock = [], time.perf_counter
        while not self._stop.is_set():
            try:
                frames = rpc.recv_frames(self.socket)
            except zmq.Again:
                continue
            t0 = clock()
            message = wire.decode(frames[1:])
            t1 = clock()
            if message.method == "stages":  # the report: every stage's median in µs
                rpc.send_frames(self.socket, [frames[0], *wire.encode(wire.Message(
                    wire.REPLY, message.id, body=(np.median(times, axis=0) * 1e6).tolist()))])
                continue
            args, kwargs = rpc._call_arguments(message.body)
            result = self.methods[message.method](*args, **kwargs)
            t2 = clock()
            reply = wire.encode(wire.Message(wire.REPLY, message.id, body=result))
            t3 = clock()
            rpc.send_frames(self.socket, [frames[0], *reply])
            times.append((t1 - t0, t2 - t1, t3 - t2, clock() - t3))


def serve(endpoint: str, ready) -> None:
    server = StageTimedServer(bus.BenchService(), endpoint, name="bench")
    ready.set()
    server.serve_forever()


def hot(call, number: int = 20000) -> float:
    return min(timeit.repeat(call, number=number, repeat=3)) / number * 1e6


def hot_stages() -> dict[str, float]:
    obs, action = np.zeros(bus.OBS, np.float32), np.zeros(bus.ACTION, np.float32)
    call = wire.Message(wire.CALL, 1, "act", time.time() + 10, {"args": [obs], "kwargs": {}})
    reply = wire.Message(wire.REPLY, 1, body=action)
    call_frames, reply_frames = ([zmq.Frame(bytes(f)) for f in wire.encode(m)] for m in (call, reply))
    service = bus.BenchService()
    sink = zmq.Context.instance().socket(zmq.ROUTER)  # unroutable identity: the frames are dropped
    sink.bind("inproc://bench-stages")
    identity, reply_out = zmq.Frame(b"\x00peer"), wire.encode(reply)
    return {"server decode": hot(lambda: wire.decode(call_frames)),
            "server dispatch": hot(lambda: service.act(*rpc._call_arguments(call.body)[0])),
            "server encode": hot(lambda: wire.encode(reply)),
            "server send": hot(lambda: rpc.send_frames(sink, [identity, *reply_out])),
            "client encode": hot(lambda: wire.encode(call)),
            "client decode": hot(lambda: wire.decode(reply_frames))}


def main(calls: int = 5000) -> None:
    context = mp.get_context("spawn")
    ready = context.Event()
    endpoint = f"tcp://127.0.0.1:{bus.free_port()}"
    server = context.Process(target=serve, args=(endpoint, ready), daemon=True)
    server.start()
    ready.wait(30)
    client = rpc.Client(endpoint, service="bench", timeout=30)
    obs, clock = np.zeros(bus.OBS, np.float32), time.perf_counter
    encode, decode, marks = wire.encode, wire.decode, []

    def timed_encode(message):  # the client's own stages, timed in place
        start = clock()
        frames = encode(message)
        marks.append(("encode", clock() - start))
        return frames

    def timed_decode(frames):
        start = clock()
        message = decode(frames)
        marks.append(("decode", clock() - start))
        return message

    round_trips = []
    wire.encode, wire.decode = timed_encode, timed_decode
    try:
        for i in range(calls + 500):
            start = clock()
            client.call("act", obs)
            if i >= 500:  # after a warm-up
                round_trips.append(clock() - start)
    finally:
        wire.encode, wire.decode = encode, decode
    in_situ = {f"server {s}": v for s, v in zip(STAGES, client.call("stages"))}
    for stage in ("encode", "decode"):
        in_situ[f"client {stage}"] = float(np.median([t for s, t in marks[1000:] if s == stage])) * 1e6
    server.terminate()
    loop = hot_stages()
    table = Table(title=f"case b: podium's stages in the ping-pong vs in a hot loop (median, µs; round trip "
                        f"p50 {np.median(round_trips) * 1e6:.0f} µs)")
    for column in ("stage", "in the ping-pong", "hot loop", "ratio"):
        table.add_column(column, justify="right")
    for stage, value in in_situ.items():
        table.add_row(stage, f"{value:.1f}", f"{loop[stage]:.1f}", f"{value / loop[stage]:.1f}")
    table.add_row("all", f"{sum(in_situ.values()):.1f}", f"{sum(loop.values()):.1f}",
                  f"{sum(in_situ.values()) / sum(loop.values()):.1f}")
    Console(width=120).print(table)


if __name__ == "__main__":
    main()
