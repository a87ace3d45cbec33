"""`podium android` (a daemon per phone) and `podium devices` (adb discovery), as plugin commands."""
from __future__ import annotations

import click
from rich.console import Console
from rich.table import Table

from control.bus.options import daemon_options, make_daemon
from control.extras import needs_extra
from control.terminal import fail, json_object

console = Console()


@needs_extra("android", "appium", "PIL")
@click.command()
@click.option("--udid", required=True, help="The phone's adb serial (`podium devices` lists them).")
@click.option("--appium", "appium_url", default="http://127.0.0.1:4723", show_default=True,
              help="The Appium server that drives it (UiAutomator2 driver).")
@click.option("--name", help="Service name in the hub [default: android:UDID].")
@click.option("--capabilities", help="JSON object of extra W3C capabilities, e.g. "
              "'{\"appium:noReset\": false}' (bare names get the appium: prefix).")
@click.option("--apps", help="JSON object of app labels to packages, for open_app by name.")
@click.option("--settle", default=0.5, show_default=True, type=click.FloatRange(0, 10),
              help="Seconds to let the screen settle after each action.")
@daemon_options
def android(udid: str, appium_url: str, name: str | None, capabilities: str | None, apps: str | None,
            settle: float, hub_endpoint: str, bind: str, keys) -> None:
    """Serve one Android phone or emulator (through Appium) as a PhoneDevice daemon."""
    from control.errors import PodiumError
    from control.phone.remote import PhoneService
    from devices.android.device import AndroidDevice

    caps = json_object(capabilities, "--capabilities")
    labels = json_object(apps, "--apps")
    name = name or f"android:{udid}"
    try:
        device = AndroidDevice(appium_url, udid, capabilities=caps, apps=labels, name=name, settle=settle)
        try:
            make_daemon(PhoneService(device), name, "android", hub_endpoint=hub_endpoint, bind=bind,
                        keys=keys, capabilities={"udid": udid, "appium": device.shown_url}).run()
        finally:
            device.close()
    except PodiumError as exc:  # no session, or nowhere to serve: one line, not a traceback
        fail(str(exc))


@click.command()
@click.option("--appium", "appium_url", default="http://127.0.0.1:4723", show_default=True,
              help="The Appium server the config entries should name.")
def devices(appium_url: str) -> None:
    """List adb-attached Android devices and print config entries for them."""
    from devices.android.adb import AdbError, adb_devices, config_entry

    try:
        found = adb_devices()
    except AdbError as exc:
        fail(str(exc))
    if not found:
        console.print("adb sees no devices")
        return
    table = Table(title="adb devices")
    for column in ("serial", "state", "model", "device"):
        table.add_column(column)
    for d in found:
        table.add_row(d["serial"], d["state"], d.get("model", "-"), d.get("device", "-"))
    console.print(table)
    for d in found:
        entry = config_entry(d, appium_url)
        if d["state"] != "device":  # unauthorized or offline: Appium cannot drive it yet
            entry = f"# {d['serial']} is {d['state']}: accept it on the phone, then use:\n" + "".join(
                f"# {line}\n" for line in entry.splitlines())
        click.echo("\n" + entry, nl=False)
