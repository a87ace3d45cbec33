"""adb discovery: `podium devices` and the parsing of `adb devices -l`."""
from __future__ import annotations

import json
import os
import subprocess
import sys

from devices.android.adb import config_entry


def test_devices_without_adb_says_so(tmp_path):
    env = {**os.environ, "PATH": str(tmp_path)}
    result = subprocess.run([sys.executable, "-m", "control.cli", "devices"], capture_output=True,
                            text=True, env=env, timeout=60)
    assert result.returncode == 1 and "adb is not installed" in result.stderr


def test_adb_output_is_parsed_into_config_entries():
    from devices.android.adb import parse_adb_devices

    text = ("List of devices attached\n"
            "emulator-5554          device product:sdk_gphone64 model:sdk_gphone64_x86_64 "
            "device:emu64xa transport_id:1\n"
            "R58M12ABCDE            unauthorized usb:1-1 transport_id:2\n\n")
    devices = parse_adb_devices(text)
    assert devices[0]["serial"] == "emulator-5554" and devices[0]["model"] == "sdk_gphone64_x86_64"
    assert devices[1] == {"serial": "R58M12ABCDE", "state": "unauthorized", "usb": "1-1",
                          "transport_id": "2"}


def test_an_adb_row_becomes_a_valid_config_entry(tmp_path):
    from control.fleet.config import load_config

    path = tmp_path / "podium.toml"
    path.write_text(config_entry({"serial": "emulator-5554", "state": "device"}))
    (device,) = load_config(path).devices
    assert (device.name, device.kind, device.udid) == ("android:emulator-5554", "android", "emulator-5554")


def test_rows_that_are_not_devices_are_skipped():
    from devices.android.adb import parse_adb_devices

    text = "* daemon not running; starting now at tcp:5037\nadb server version 41\nbanner\nemulator-5554 device\n"
    assert [d["serial"] for d in parse_adb_devices(text) if d["state"] == "device"] == ["emulator-5554"]
    assert all(len(d) >= 2 for d in parse_adb_devices("lonely\n"))


def test_an_android_entry_survives_systemd_quoting(tmp_path):
    import shlex

    from tests.conftest import podium

    config = tmp_path / "fleet.toml"
    config.write_text('[[devices]]\nname = "android:x"\nkind = "android"\nudid = "x"\n'
                      'capabilities = { "appium:app" = "/my apps/50% off.apk", '
                      '"appium:note" = "say \\"hi\\" $HOME" }\n')
    result = podium("export", "systemd", str(config), "--out", str(tmp_path / "units"), timeout=60)
    assert result.returncode == 0, result.stderr
    unit = (tmp_path / "units" / "podium-android_x.service").read_text()
    exec_start = next(line for line in unit.splitlines() if line.startswith("ExecStart="))
    argv = shlex.split(exec_start.removeprefix("ExecStart=").replace("%%", "%").replace("$$", "$"))
    caps = json.loads(argv[argv.index("--capabilities") + 1])
    assert caps == {"appium:app": "/my apps/50% off.apk", "appium:note": 'say "hi" $HOME'}
