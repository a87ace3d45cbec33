"""adb discovery: which Android phones and emulators are attached, as fleet config entries."""
from __future__ import annotations

import shutil
import subprocess

from control.errors import PodiumError


class AdbError(PodiumError):
    """adb is missing or failed."""


def parse_adb_devices(text: str) -> list[dict[str, str]]:
    """Rows of `adb devices -l`: serial, state and the key:value details (model, device, ...)."""
    devices = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("List of devices", "*")):
            continue
        fields = line.split()
        if len(fields) < 2:  # not a device row (adb prints daemon notices too)
            continue
        serial, state, *details = fields
        info = dict(d.split(":", 1) for d in details if ":" in d)
        devices.append({"serial": serial, "state": state, **info})
    return devices


def adb_devices(timeout: float = 20.0) -> list[dict[str, str]]:
    """The devices `adb devices -l` lists; AdbError when adb is missing or fails."""
    adb = shutil.which("adb")
    if adb is None:
        raise AdbError("adb is not installed (Android platform-tools): install it and plug in or "
                       "start a device, or add [[devices]] entries by hand (kind = \"android\", "
                       "udid = ...)")
    try:
        out = subprocess.run([adb, "devices", "-l"], capture_output=True, text=True, timeout=timeout,
                             check=True)
    except (subprocess.SubprocessError, OSError) as exc:
        raise AdbError(f"`adb devices -l` failed: {exc}") from exc
    return parse_adb_devices(out.stdout)


def config_entry(device: dict[str, str], appium: str = "http://127.0.0.1:4723") -> str:
    """A `[[devices]]` TOML entry for one adb row."""
    return (f'[[devices]]\nname = "android:{device["serial"]}"\nkind = "android"\n'
            f'udid = "{device["serial"]}"\nappium = "{appium}"\n')
