"""Settings: Wi-Fi, Bluetooth, airplane mode, brightness, dark theme, sound and the phone's identity."""
from __future__ import annotations

import random
from typing import TYPE_CHECKING

from control.phone.observation import Bounds
from sims.phone.apps import App
from sims.phone.ui import Dialog, Field, Route, Screen, Ui, View

if TYPE_CHECKING:
    from sims.phone.phone import PhoneSim

MODELS = ("Pixel 7", "Pixel 8", "Pixel 8 Pro", "Pixel 9", "Pixel Fold")
NETWORKS = ("Home-5G", "Podium-Lab", "Cafe Guest", "Office", "Garden WiFi")
HEADPHONES = ("Pixel Buds Pro", "Sony WH-1000XM5", "JBL Flip 6", "Car audio", "Bose QC45")
CATEGORIES = (("Network & internet", "Wi-Fi, airplane mode", "network"),
              ("Connected devices", "Bluetooth, pairing", "connected"),
              ("Display", "Dark theme, brightness", "display"),
              ("Sound & vibration", "Volume, Do Not Disturb", "sound"),
              ("Battery", "", "battery"),
              ("About phone", "", "about"))


class Settings(App):
    package = "com.android.settings"
    label = "Settings"

    def __init__(self, phone: PhoneSim, rng: random.Random) -> None:
        super().__init__(phone, rng)
        self.wifi = rng.random() < 0.7
        self.bluetooth = rng.random() < 0.5
        self.airplane = False
        self.brightness = round(rng.uniform(0.3, 0.8), 2)
        self.adaptive_brightness = rng.random() < 0.5
        self.dark_theme = False
        self.ring_volume = round(rng.uniform(0.3, 0.9), 2)
        self.do_not_disturb = False
        self.battery_saver = False
        self.model = rng.choice(MODELS)
        self.device_name = self.model
        self.network = rng.choice(NETWORKS)
        self.paired = rng.sample(HEADPHONES, 2)
        self.android_version = "15"
        self.build = f"AP4A.{rng.randrange(240000, 259999)}.{rng.randrange(10, 99)}"

    # -- state changes (the same a person causes by tapping) -------------------------------------
    def set_airplane(self, on: bool) -> None:
        """Airplane mode turns the radios off, and turning it off brings Wi-Fi back, as on Android."""
        if on and not self.airplane:
            self._wifi_before, self.wifi, self.bluetooth = self.wifi, False, False
        elif not on and self.airplane:
            self.wifi = getattr(self, "_wifi_before", True)
        self.airplane = on

    # -- screens ---------------------------------------------------------------------------------
    def screen_main(self, route: Route, ui: Ui) -> Screen:
        area = Bounds(0, ui.top, ui.width, ui.bottom)
        summaries = {"battery": f"{self.phone.battery}%", "about": self.device_name}

        def row(item: tuple[str, str, str], b: Bounds) -> View | None:
            title, subtitle, name = item
            return ui.row(b, title, subtitle or summaries.get(name, ""), on_tap=lambda: self.open(name),
                          key=name, avatar=title)
        return Screen("Settings", [ui.list("settings_list", CATEGORIES, ui.dp(210), row, area)],
                      activity="Settings")

    def _page(self, title: str, rows: list, ui: Ui, activity: str) -> Screen:
        col = ui.column()
        views = [build(col.take(ui.dp(200))) for build in rows]
        return Screen(title, [v for v in views if v is not None], up=True, activity=activity)

    def screen_network(self, route: Route, ui: Ui) -> Screen:
        def toggle_wifi() -> None:
            self.wifi = not self.wifi
        return self._page("Network & internet", [
            lambda b: ui.switch_row(b, "Wi-Fi", self.wifi, toggle_wifi, self.network if self.wifi else "Off"),
            lambda b: ui.switch_row(b, "Airplane mode", self.airplane, lambda: self.set_airplane(not self.airplane)),
            lambda b: ui.row(b, "Mobile network", "Podium Mobile", on_tap=lambda: self.toast("No SIM card")),
            lambda b: ui.row(b, "Hotspot & tethering", "Off", on_tap=lambda: self.toast("Hotspot is unavailable")),
        ], ui, "NetworkDashboardActivity")

    def screen_connected(self, route: Route, ui: Ui) -> Screen:
        def toggle() -> None:
            self.bluetooth = not self.bluetooth
        rows = [lambda b: ui.switch_row(b, "Bluetooth", self.bluetooth, toggle,
                                        "On" if self.bluetooth else "Off"),
                lambda b: ui.row(b, "Pair new device", on_tap=lambda: self.toast(
                    "Searching for devices..." if self.bluetooth else "Turn on Bluetooth first"))]
        rows += [lambda b, name=name: ui.row(b, name, "Saved", key=f"paired:{name}") for name in self.paired]
        return self._page("Connected devices", rows, ui, "ConnectedDeviceDashboardActivity")

    def _slider_page(self, ui: Ui, title: str, label: str, attribute: str, switches: list[tuple[str, str]],
                     activity: str) -> Screen:
        """A page with a labelled slider over `attribute` (0..1) and switches over others."""
        def slide(value: float) -> None:
            setattr(self, attribute, round(value, 2))

        def flip(name: str) -> None:
            setattr(self, name, not getattr(self, name))
        rows = [lambda b: ui.text(b and Bounds(b.left + ui.dp(48), b.top, b.right, b.top + ui.dp(90)), label,
                                  rid=f"{attribute}_title"),
                lambda b: ui.slider(b and Bounds(b.left + ui.dp(60), b.top, b.right - ui.dp(60), b.bottom - ui.dp(90)),
                                    getattr(self, attribute), slide, desc=label)]
        rows += [lambda b, t=text, n=name: ui.switch_row(b, t, getattr(self, n), lambda: flip(n))
                 for text, name in switches]
        return self._page(title, rows, ui, activity)

    def screen_display(self, route: Route, ui: Ui) -> Screen:
        return self._slider_page(ui, "Display", "Brightness level", "brightness",
                                 [("Adaptive brightness", "adaptive_brightness"), ("Dark theme", "dark_theme")],
                                 "DisplaySettingsActivity")

    def screen_sound(self, route: Route, ui: Ui) -> Screen:
        return self._slider_page(ui, "Sound & vibration", "Ring volume", "ring_volume",
                                 [("Do Not Disturb", "do_not_disturb")], "SoundSettingsActivity")

    def screen_battery(self, route: Route, ui: Ui) -> Screen:
        def saver() -> None:
            self.battery_saver = not self.battery_saver
        return self._page("Battery", [
            lambda b: ui.row(b, f"{self.phone.battery}%", "Battery level", key="level"),
            lambda b: ui.switch_row(b, "Battery Saver", self.battery_saver, saver),
        ], ui, "BatterySaverActivity")

    def screen_about(self, route: Route, ui: Ui) -> Screen:
        return self._page("About phone", [
            lambda b: ui.row(b, "Device name", self.device_name, on_tap=self._rename, key="name"),
            lambda b: ui.row(b, "Model", self.model, key="model"),
            lambda b: ui.row(b, "Android version", self.android_version, key="version"),
            lambda b: ui.row(b, "Build number", self.build, key="build"),
        ], ui, "MyDeviceInfoActivity")

    def _rename(self) -> None:
        draft = {"name": self.device_name}

        def body(ui: Ui, col) -> list[View | None]:
            binding = Field("settings:device_name", lambda: draft["name"], lambda v: draft.__setitem__("name", v))
            return [ui.field(col.take(ui.dp(140)), binding, hint="Device name", rid="edittext")]

        def save() -> None:
            name = draft["name"].strip()
            if name:
                self.device_name = name
        self.dialog(Dialog("Device name", body, (("Cancel", None), ("OK", save)), state=draft))
