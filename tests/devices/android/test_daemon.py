"""`podium android`: a phone daemon per device, alone and under `podium up`, on a real Appium
server; RemotePhone through it passes the conformance check."""
from __future__ import annotations

import json
import os

import pytest

from control import RemotePhone
from control.bus.hub import HubClient, wait_for_service
from control.phone import check_phone
from tests.conftest import fleet_up, podium, supervised


def test_remote_phone_through_the_android_daemon_conforms(hub, appium, fake_caps, processes):
    daemon = processes.podium("android", "--udid", "fake-1", "--appium", appium.url, "--hub", hub.endpoint,
                              "--capabilities", json.dumps(fake_caps), "--settle", "0")
    with HubClient(hub.endpoint) as client:
        record = wait_for_service(client, "android:fake-1", timeout=60)
    assert record["kind"] == "android" and record["capabilities"]["appium"] == appium.url
    remote = RemotePhone("android:fake-1", hub=hub.endpoint)
    obs = remote.observe()
    assert obs.screenshot.shape == (852, 400, 3) and obs.package == "com.android.settings"
    report = check_phone(remote)
    assert {"click", "scroll", "swipe", "long_press"} <= set(report.performed)
    assert "mobile: pressKey" in report.unsupported["navigate_back"]   # named across the bus
    assert daemon.poll() is None   # the daemon outlives its client
    daemon.terminate()
    assert daemon.wait(20) == 0


def test_the_daemon_without_a_server_exits_with_one_clear_line(hub):
    from tests.conftest import free_port

    result = podium("android", "--udid", "emulator-5554", "--appium", f"http://127.0.0.1:{free_port()}",
                    "--hub", hub.endpoint, timeout=60)
    assert result.returncode == 1
    assert "android:emulator-5554: cannot reach the Appium server" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_capabilities_are_a_usage_error():
    result = podium("android", "--udid", "x", "--capabilities", "[1]", timeout=60)
    assert result.returncode == 2 and "must be a JSON object" in result.stderr


def test_podium_up_starts_one_daemon_per_configured_phone(tmp_path, appium, fake_caps):
    caps = ", ".join(f'"{k}" = "{v}"' for k, v in fake_caps.items())
    devices = (f'[[devices]]\nname = "android:fake-1"\nkind = "android"\nudid = "fake-1"\n'
               f'appium = "{appium.url}"\ncapabilities = {{ {caps} }}\n')
    with fleet_up(tmp_path, devices, stop_timeout=5) as (hub, state):
        with HubClient(hub) as client:
            wait_for_service(client, "android:fake-1", timeout=60)
        with RemotePhone("android:fake-1", hub=hub) as remote:
            assert remote.current_app() == "com.android.settings"
        row = supervised(state)["android:fake-1"]
        assert row["kind"] == "android" and row["state"] == "running"


def test_podium_devices_lists_entries_that_load(tmp_path):
    """A stand-in adb (the real one needs a phone) prints what `adb devices -l` prints."""
    adb = tmp_path / "adb"
    adb.write_text("#!/bin/sh\necho 'List of devices attached'\n"
                   "echo 'emulator-5554 device product:sdk model:Pixel_7 device:emu transport_id:1'\n")
    adb.chmod(0o755)
    result = podium("devices", env={**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}"})
    assert result.returncode == 0, result.stderr
    entry = result.stdout[result.stdout.index("[[devices]]"):]
    (tmp_path / "podium.toml").write_text(entry)
    from control.fleet.config import load_config

    (device,) = load_config(tmp_path / "podium.toml").devices
    assert device.udid == "emulator-5554" and device.kind == "android"


@pytest.mark.parametrize("missing", ["appium"])
def test_a_missing_extra_is_named(missing, tmp_path):
    """With the android extra's modules hidden, the command says which extra to install."""
    (tmp_path / "sitecustomize.py").write_text(f"import sys\nsys.modules[{missing!r}] = None\n")
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}:{os.environ.get('PYTHONPATH', '')}"}
    result = podium("android", "--udid", "x", env=env, timeout=60)
    assert result.returncode == 1
    assert "needs the 'android' extra: pip install 'podium[android]'" in result.stderr
