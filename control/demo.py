"""`podium demo`: the embedded default, end to end, in well under a minute.

Starts a hub in this process and an echo service daemon as a separate OS process, lists it, calls
it (including a remote error), measures round trips for three payload sizes, and shuts down.
"""
from __future__ import annotations

import subprocess
import sys
import time
from typing import Any, Callable

import numpy as np
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from control.errors import RemoteError
from control.hub import Hub, HubClient, connect, wait_for_service
from control.progress import progress_bar

SERVICE = "echo:demo"


def _payloads(calls: int) -> list[tuple[str, Any, int]]:
    rng = np.random.default_rng(0)
    return [
        ("64 B bytes", bytes(64), calls),
        ("348 x float32 observation", rng.standard_normal(348).astype(np.float32), calls),
        ("1080x2400x3 uint8 screenshot", rng.integers(0, 256, (1080, 2400, 3), dtype=np.uint8),
         max(20, calls // 100)),
    ]


def round_trips(call: Callable[[], Any], count: int, progress: Progress, label: str) -> np.ndarray:
    """Seconds per call for `count` calls, after a short warm-up."""
    for _ in range(min(20, count)):
        call()
    times = np.empty(count)
    task = progress.add_task(label, total=count)
    for i in range(count):
        start = time.perf_counter()
        call()
        times[i] = time.perf_counter() - start
        progress.advance(task)
    return times


def run_demo(console: Console, calls: int = 2000) -> None:
    started = time.perf_counter()
    hub = Hub("tcp://127.0.0.1:*").start()
    console.print(f"[bold]1.[/] hub started in-process at {hub.endpoint}")
    daemon = subprocess.Popen([sys.executable, "-m", "control.cli", "echo", "--name", SERVICE,
                               "--hub", hub.endpoint], stdout=subprocess.DEVNULL)
    try:
        with HubClient(hub.endpoint) as hub_client:
            with console.status("waiting for the echo daemon to register..."):
                wait_for_service(hub_client, SERVICE, timeout=30)
            console.print(f"[bold]2.[/] echo daemon running as pid {daemon.pid}, registered:")
            console.print(_services(hub_client.list()))
            figures = _exercise(console, hub.endpoint, calls)
            console.print(figures)
            daemon.terminate()
            daemon.wait(10)
            gone = _wait_unregistered(hub_client)
    finally:
        if daemon.poll() is None:
            daemon.kill()
        hub.stop()
    console.print(f"[bold]5.[/] daemon stopped (exit {daemon.returncode}); "
                  f"{'it unregistered from the hub' if gone else 'the hub still lists it'}; hub stopped.")
    console.print(f"\n[bold green]The demo showed[/]: a hub, a daemon in its own process found by name, "
                  f"calls with arrays as raw frames, a remote error re-raised locally, and round-trip "
                  f"latency for three payload sizes — in {time.perf_counter() - started:.1f} s.")


def _services(records: list[dict]) -> Table:
    from control.cli import services_table
    return services_table(records)


def _exercise(console: Console, hub_endpoint: str, calls: int) -> Table:
    with connect(SERVICE, hub_endpoint, timeout=10) as client:
        console.print(f"[bold]3.[/] echo('hello') -> {client.call('echo', 'hello')!r}; "
                      f"add(2, 3) -> {client.call('add', 2, 3)!r}; "
                      f"sample([2, 3]).shape -> {client.call('sample', [2, 3]).shape}")
        try:
            client.call("add", "two", 3)
        except RemoteError as exc:
            console.print(f"   add('two', 3) raised {type(exc).__name__} (a TypeError too: "
                          f"{isinstance(exc, TypeError)}): {exc.args[0]}")
        table = Table(title="[bold]4.[/] round trips through the bus (tcp, loopback)")
        for column in ("payload", "calls", "p50", "p99", "throughput"):
            table.add_column(column, justify="right")
        with progress_bar(console, unit="calls", transient=True) as progress:
            for label, payload, count in _payloads(calls):
                times = round_trips(lambda: client.call("echo", payload), count, progress, label)
                size = payload.nbytes if isinstance(payload, np.ndarray) else len(payload)
                p50, p99 = np.percentile(times, [50, 99])
                table.add_row(label, str(count), f"{p50 * 1e6:,.0f} µs", f"{p99 * 1e6:,.0f} µs",
                              f"{2 * size / times.mean() / 1e6:,.1f} MB/s")
    return table


def _wait_unregistered(hub_client: HubClient, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(r["name"] != SERVICE for r in hub_client.list()):
            return True
        time.sleep(0.05)
    return False
