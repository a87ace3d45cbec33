"""Bus round-trip benchmark: podium RPC against a raw pyzmq DEALER/ROUTER peer, in one run.

Method: both servers run as separate processes at the same time; the client alternates blocks of
round trips between them (raw, raw spinning, podium, raw, ...) so that all see the same machine
state. Each block is preceded by a short warm-up. Reported: p50 and p99 per round trip, and
podium's ratios to both peers.

Peers: "raw" is a bare pyzmq DEALER that blocks in its receive, as pyzmq's users write it; "raw
spin" is the same DEALER waiting for its reply as podium's Client does by default (rpc.ReplySpin:
busy-waits up to 200 µs for services that answer that fast, then blocks), so the ratio to it is
podium's own per-call cost, with the way of waiting taken out.

Cases (the client sends, the server answers):
  a  64 bytes            -> the same 64 bytes
  b  348 float32 obs     -> 17 float32 action     (a humanoid policy step)
  c  tiny request        -> 1080x2400x3 uint8 screenshot (7.8 MB, zero-copy)

    python bench/bus.py                      # full run: 5,000 round trips (a, b), 200 (c)
    python bench/bus.py --calls 500 --screens 20   # quick look
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import tempfile
import time
from dataclasses import dataclass

import numpy as np
import zmq
from rich.console import Console
from rich.table import Table

from control.bus.rpc import Client, ReplySpin, Server, default_spin
from control.progress import progress_bar

OBS, ACTION, SCREEN = 348, 17, (1080, 2400, 3)


class BenchService:
    """What podium's server answers in each case."""

    def __init__(self) -> None:
        self._action = np.zeros(ACTION, np.float32)
        self._screen = np.full(SCREEN, 7, np.uint8)

    def echo(self, payload: bytes) -> bytes:
        return payload

    def act(self, obs: np.ndarray) -> np.ndarray:
        return self._action

    def screenshot(self) -> np.ndarray:
        return self._screen


def raw_server(endpoint: str, ready: mp.Event) -> None:
    """The peer: a bare ROUTER that answers by request size, with no framing or decoding."""
    sock = zmq.Context.instance().socket(zmq.ROUTER)
    sock.bind(endpoint)
    action = np.zeros(ACTION, np.float32).tobytes()
    screen = np.full(SCREEN, 7, np.uint8)
    ready.set()
    while True:
        ident, request = sock.recv_multipart(copy=False)
        size = len(request.buffer)
        reply = request if size == 64 else action if size == OBS * 4 else screen
        sock.send_multipart([ident, reply], copy=False)


def podium_server(endpoint: str, ready: mp.Event) -> None:
    server = Server(BenchService(), endpoint, name="bench")
    ready.set()
    server.serve_forever()


@dataclass
class Case:
    key: str
    label: str
    calls: int
    block: int


def raw_caller(endpoint: str, case: str, spin: bool = False):
    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.connect(endpoint)
    request = {"a": bytes(64), "b": np.zeros(OBS, np.float32), "c": b"s"}[case]
    if not spin:
        def call() -> None:
            sock.send(request, copy=False)
            sock.recv_multipart(copy=False)
        return call
    waiting = ReplySpin(default_spin())  # as podium's Client: PODIUM_SPIN_US applies to both

    def spinning_call() -> None:
        sock.send(request, copy=False)
        window, started = waiting.next_window(), time.perf_counter()
        waiting.wait(sock, window)
        sock.recv_multipart(copy=False)
        waiting.observe(time.perf_counter() - started, window)
    return spinning_call


def podium_caller(endpoint: str, case: str):
    client = Client(endpoint, service="bench", timeout=30)
    if case == "a":
        payload = bytes(64)
        return lambda: client.call("echo", payload)
    if case == "b":
        obs = np.zeros(OBS, np.float32)
        return lambda: client.call("act", obs)
    return lambda: client.call("screenshot")


def timed(call, count: int) -> np.ndarray:
    out = np.empty(count)
    for i in range(count):
        t0 = time.perf_counter()
        call()
        out[i] = time.perf_counter() - t0
    return out


def measure(endpoints: dict[str, str], case: Case, progress) -> dict[str, np.ndarray]:
    callers = {"raw": raw_caller(endpoints["raw"], case.key),
               "raw spin": raw_caller(endpoints["raw"], case.key, spin=True),
               "podium": podium_caller(endpoints["podium"], case.key)}
    samples: dict[str, list[np.ndarray]] = {name: [] for name in callers}
    task = progress.add_task(case.label, total=len(callers) * case.calls)
    done = 0
    while done < case.calls:
        n = min(case.block, case.calls - done)
        for name, call in callers.items():
            timed(call, max(2, n // 10))  # warm-up, discarded
            samples[name].append(timed(call, n))
            progress.advance(task, n)
        done += n
    return {name: np.concatenate(parts) for name, parts in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=5000, help="round trips per side, cases a and b")
    parser.add_argument("--screens", type=int, default=200, help="round trips per side, case c")
    parser.add_argument("--transports", default="tcp,ipc")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()

    console = Console(width=150)
    cases = [Case("a", "a: 64 B echo", args.calls, 500),
             Case("b", "b: 348xf32 -> 17xf32", args.calls, 500),
             Case("c", "c: 1080x2400x3 u8", args.screens, 20)]
    table = Table(title="podium RPC vs raw pyzmq DEALER/ROUTER (round trip)")
    for column in ("transport", "case", "n", "raw p50", "raw spin p50", "podium p50", "ratio p50",
                   "ratio p50 to spin", "raw p99", "podium p99", "ratio p99", "ratio p99 to spin"):
        table.add_column(column, justify="right")
    results = []
    tmp = tempfile.mkdtemp(prefix="podium-bench-")
    ctx = mp.get_context("spawn")
    with progress_bar(console, unit="calls", transient=True) as progress:
        for transport in args.transports.split(","):
            endpoints = {side: (f"ipc://{tmp}/{side}" if transport == "ipc"
                                else f"tcp://127.0.0.1:{free_port()}") for side in ("raw", "podium")}
            procs = []
            for side, target in (("raw", raw_server), ("podium", podium_server)):
                ready = ctx.Event()
                proc = ctx.Process(target=target, args=(endpoints[side], ready), daemon=True)
                proc.start()
                ready.wait(30)
                procs.append(proc)
            try:
                for case in cases:
                    times = measure(endpoints, case, progress)
                    row = summarize(transport, case, times)
                    results.append(row)
                    table.add_row(transport, case.label, str(case.calls), us(row["raw_p50"]),
                                  us(row["raw_spin_p50"]), us(row["podium_p50"]), f"{row['ratio_p50']:.2f}",
                                  f"{row['spin_ratio_p50']:.2f}", us(row["raw_p99"]), us(row["podium_p99"]),
                                  f"{row['ratio_p99']:.2f}", f"{row['spin_ratio_p99']:.2f}")
            finally:
                for proc in procs:
                    proc.kill()
    console.print(table)
    console.print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
                  f"{platform.python_version()}, pyzmq {zmq.pyzmq_version()}, libzmq {zmq.zmq_version()}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


def summarize(transport: str, case: Case, times: dict[str, np.ndarray]) -> dict:
    raw50, raw99 = np.percentile(times["raw"], [50, 99])
    spin50, spin99 = np.percentile(times["raw spin"], [50, 99])
    pod50, pod99 = np.percentile(times["podium"], [50, 99])
    return {"transport": transport, "case": case.key, "n": case.calls, "raw_p50": raw50,
            "raw_p99": raw99, "raw_spin_p50": spin50, "raw_spin_p99": spin99, "podium_p50": pod50,
            "podium_p99": pod99, "ratio_p50": pod50 / raw50, "ratio_p99": pod99 / raw99,
            "spin_ratio_p50": pod50 / spin50, "spin_ratio_p99": pod99 / spin99}


def us(seconds: float) -> str:
    return f"{seconds * 1e6:,.0f} µs"


def free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


if __name__ == "__main__":
    main()
