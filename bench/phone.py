"""Observe+act steps on the phone simulator: in process, through the bus, and over HTTP, in one run.

Method: one step = one action that changes the screen, then an observation of the new screen
(screenshot + elements). The actions cycle through a fixed script (open Contacts, scroll its list
down and up, open a contact, Back, open Clock, switch tabs, Home), so every step renders a new
frame. Paths, each on its own simulator with the same seed:
  in process      PhoneSim.act + PhoneSim.observe (the peer: no transport at all)
  bus             RemotePhone to a `podium sim phone` daemon process (screenshot as a raw frame)
  HTTP, client    plain appium-python-client to the same daemon's Appium endpoint: one W3C
                  request for the action, then page source and a screenshot (PNG, base64)
  HTTP, device    podium's AndroidDevice over that endpoint: the above plus the current package and
                  activity, with the PNG decoded to pixels and the page source parsed
Rounds interleave the paths; reported: median steps/s over rounds, p50/p99 step time, and the ratio
to in-process. Also timed: one frame's render, and one PNG encode against Pillow's encoder.

    python bench/phone.py                   # 5 rounds of 60 steps
    python bench/phone.py --rounds 2 --steps 20
"""
from __future__ import annotations

import argparse
import io
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

import numpy as np
from rich.console import Console
from rich.table import Table

from control.bus.hub import Hub, HubClient, wait_for_service
from control.phone import JSONAction, RemotePhone
from control.progress import progress_bar
from sims.phone.phone import PhoneSim
from sims.phone.render import encode_png

SCRIPT = [
    {"action_type": "open_app", "app_name": "Contacts"},
    {"action_type": "scroll", "direction": "down"},
    {"action_type": "scroll", "direction": "up"},
    {"action_type": "click", "x": 540, "y": 700},          # the first contact
    {"action_type": "navigate_back"},
    {"action_type": "open_app", "app_name": "Clock"},
    {"action_type": "click", "x": 540, "y": 330},          # the Timer tab
    {"action_type": "click", "x": 180, "y": 330},          # back to Alarm
    {"action_type": "navigate_home"},
]


def timed(step: Callable[[dict], None], steps: int) -> list[float]:
    times = []
    for i in range(steps):
        start = time.perf_counter()
        step(SCRIPT[i % len(SCRIPT)])
        times.append(time.perf_counter() - start)
    return times


def w3c_step(driver) -> Callable[[dict], None]:
    """One step with plain appium-python-client: the action as W3C requests, then source + screenshot."""
    from selenium.webdriver.common.actions import interaction
    from selenium.webdriver.common.actions.action_builder import ActionBuilder
    from selenium.webdriver.common.actions.pointer_input import PointerInput

    def tap(x: int, y: int) -> None:
        finger = PointerInput(interaction.POINTER_TOUCH, "finger")
        builder = ActionBuilder(driver, mouse=finger, duration=0)
        builder.pointer_action.move_to_location(x, y).pointer_down().pause(0.05).pointer_up()
        builder.perform()

    def step(action: dict) -> None:
        kind = action["action_type"]
        if kind == "open_app":
            driver.activate_app({"Contacts": "com.google.android.contacts",
                                 "Clock": "com.google.android.deskclock"}[action["app_name"]])
        elif kind == "scroll":
            start, end = (1200, 400) if action["direction"] == "down" else (1200, 2000)
            driver.swipe(540, start, 540, end, 300)
        elif kind == "click":
            tap(action["x"], action["y"])
        elif kind == "navigate_back":
            driver.back()
        else:
            driver.press_keycode(3)
        _ = driver.page_source
        driver.get_screenshot_as_png()
    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=60)
    args = parser.parse_args()
    console = Console()
    from appium import webdriver
    from appium.options.common import AppiumOptions

    from devices.android.device import AndroidDevice

    local = PhoneSim(0)
    pixels = local.pixels()
    render = statistics.median(_repeat(lambda: (local._changed(), local.pixels()), 20))
    png = statistics.median(_repeat(lambda: encode_png(pixels), 20))
    pillow_png = statistics.median(_repeat(lambda: _pillow_png(pixels), 20))
    hub = Hub("tcp://127.0.0.1:*").start()
    daemon = subprocess.Popen([sys.executable, "-m", "control.cli", "sim", "phone", "--name", "sim:bench",
                               "--hub", hub.endpoint, "--http", "0"], stdout=subprocess.DEVNULL)
    try:
        with HubClient(hub.endpoint) as client:
            url = wait_for_service(client, "sim:bench", timeout=60)["capabilities"]["http"]
        remote = RemotePhone("sim:bench", hub=hub.endpoint)
        options = AppiumOptions().load_capabilities({"platformName": "Android"})
        paths: dict[str, Callable[[dict], None]] = {
            "in process": lambda a: (local.act(JSONAction.from_dict(a)), local.observe()),
            "bus (RemotePhone)": lambda a: (remote.act(a), remote.observe()),
        }
        results: dict[str, list[float]] = {name: [] for name in [*paths, "HTTP, appium client", "HTTP, AndroidDevice"]}
        rates: dict[str, list[float]] = {name: [] for name in results}
        with progress_bar(console, unit="steps") as progress:
            task = progress.add_task("observe+act steps", total=args.rounds * args.steps * len(results))
            for _ in range(args.rounds):
                for name in results:
                    if name == "HTTP, appium client":
                        driver = webdriver.Remote(url, options=options)
                        step, close = w3c_step(driver), driver.quit
                    elif name == "HTTP, AndroidDevice":
                        device = AndroidDevice(url, "sim", settle=0, wait_seconds=0)
                        device.observe()
                        step, close = (lambda a, d=device: (d.act(a), d.observe())), device.close
                    else:
                        step, close = paths[name], (lambda: None)
                    timed(step, len(SCRIPT))          # warm-up, discarded
                    times = timed(step, args.steps)
                    close()
                    results[name] += times
                    rates[name].append(len(times) / sum(times))
                    progress.advance(task, args.steps)
    finally:
        daemon.terminate()
        daemon.wait(20)
        hub.stop()
    peer = statistics.median(rates["in process"])
    table = Table(title=f"phone simulator, 1080x2400, {args.rounds} rounds x {args.steps} steps "
                        f"({platform.machine()}, {platform.python_version()})")
    for column in ("path", "steps/s", "ratio to in process", "p50", "p99"):
        table.add_column(column, justify="right")
    for name, times in results.items():
        p50, p99 = np.percentile(times, [50, 99]) * 1000
        rate = statistics.median(rates[name])
        table.add_row(name, f"{rate:,.1f}", f"{rate / peer:.2f}", f"{p50:.1f} ms", f"{p99:.1f} ms")
    console.print(table)
    console.print(f"one frame: render {render * 1000:.1f} ms; PNG encode {png * 1000:.1f} ms "
                  f"({len(encode_png(pixels)) // 1024} KiB) against Pillow's {pillow_png * 1000:.1f} ms "
                  f"({len(_pillow_png(pixels)) // 1024} KiB), ratio {png / pillow_png:.2f}; "
                  "goal: >= 50 steps/s over HTTP")


def _pillow_png(pixels: np.ndarray) -> bytes:
    """The peer for the PNG encoder: Pillow at its fastest compression level."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def _repeat(work: Callable[[], object], n: int) -> list[float]:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return times


if __name__ == "__main__":
    main()
