"""Settings tasks: radios, airplane mode, theme, brightness, the phone's name; and one not there."""
from __future__ import annotations

import random
from typing import Any

from sims.phone.oracle import Oracle
from sims.phone.phone import PhoneSim
from sims.phone.tasks.base import Task, require


class _SettingsToggle(Task):
    """Turn a switch on or off; the template names the page and the switch."""

    app = "Settings"
    page: str
    switch: str
    attribute: str

    @classmethod
    def draw(cls, phone: PhoneSim, rng: random.Random) -> dict[str, Any]:
        return {"on": rng.random() < 0.5}

    @classmethod
    def derive(cls, phone: PhoneSim, inputs: dict[str, Any]) -> dict[str, Any]:
        return {**inputs, "state": "on" if inputs["on"] else "off"}

    def setup(self, phone: PhoneSim) -> None:
        settings = phone.app("settings")
        settings.airplane = False
        setattr(settings, self.attribute, not self.params["on"])

    def succeeded(self, phone: PhoneSim) -> bool:
        return getattr(phone.app("settings"), self.attribute) == self.params["on"]

    def solve(self, o: Oracle) -> None:
        o.open("Settings")
        o.tap(self.page)
        o.toggle(self.switch, self.params["on"])
        o.complete()


class SettingsWifi(_SettingsToggle):
    goals = ("Turn Wi-Fi {state}.", "Switch {state} the Wi-Fi.", "I want Wi-Fi {state} on my phone.")
    page, switch, attribute, optimal = "Network & internet", "Wi-Fi", "wifi", 4


class SettingsBluetooth(_SettingsToggle):
    goals = ("Turn Bluetooth {state}.", "Switch Bluetooth {state}.", "Set Bluetooth to {state}.")
    page, switch, attribute, optimal = "Connected devices", "Bluetooth", "bluetooth", 4


class SettingsDarkTheme(_SettingsToggle):
    goals = ("Turn dark theme {state}.", "Switch the phone's dark theme {state}.", "Set dark mode {state}.")
    page, switch, attribute, optimal = "Display", "Dark theme", "dark_theme", 4


class SettingsAirplaneMode(_SettingsToggle):
    goals = ("Turn airplane mode {state}.", "Switch flight mode {state}.", "Put airplane mode {state}.")
    page, switch, attribute, optimal = "Network & internet", "Airplane mode", "airplane", 4

    def setup(self, phone: PhoneSim) -> None:
        phone.app("settings").set_airplane(not self.params["on"])


class SettingsRadiosOff(Task):
    app, difficulty, optimal = "Settings", "medium", 7
    goals = ("Turn off both Wi-Fi and Bluetooth.", "Switch off Wi-Fi and Bluetooth, but leave airplane mode off.",
             "Disable Wi-Fi and Bluetooth.")

    def setup(self, phone: PhoneSim) -> None:
        settings = phone.app("settings")
        settings.airplane, settings.wifi, settings.bluetooth = False, True, True

    def succeeded(self, phone: PhoneSim) -> bool:
        s = phone.app("settings")
        return not s.wifi and not s.bluetooth and not s.airplane

    def solve(self, o: Oracle) -> None:
        o.open("Settings")
        o.tap("Network & internet")
        o.toggle("Wi-Fi", False)
        o.back()
        o.tap("Connected devices")
        o.toggle("Bluetooth", False)
        o.complete()


class SettingsBrightness(Task):
    app, difficulty, optimal = "Settings", "medium", 4
    goals = ("Set the screen brightness to its {level}.", "Turn the brightness all the way {direction}.",
             "Make the display as {adjective} as it goes.")

    @classmethod
    def draw(cls, phone: PhoneSim, rng: random.Random) -> dict[str, Any]:
        return {"high": rng.random() < 0.5}

    @classmethod
    def derive(cls, phone: PhoneSim, inputs: dict[str, Any]) -> dict[str, Any]:
        high = inputs["high"]
        return {**inputs, "level": "maximum" if high else "minimum", "direction": "up" if high else "down",
                "adjective": "bright" if high else "dim"}

    def setup(self, phone: PhoneSim) -> None:
        phone.app("settings").brightness = 0.5

    def succeeded(self, phone: PhoneSim) -> bool:
        value = phone.app("settings").brightness
        return value >= 0.95 if self.params["high"] else value <= 0.05

    def solve(self, o: Oracle) -> None:
        o.open("Settings")
        o.tap("Display")
        slider = o.look().elements[o.index(desc="Brightness level")].bounds
        x = slider.right - 2 if self.params["high"] else slider.left + 1
        o.tap_at(x, slider.center[1])
        o.complete()


class SettingsRenameDevice(Task):
    app, difficulty, optimal = "Settings", "hard", 6
    goals = ("Rename this phone to \"{name}\".", "Change the device name to {name}.",
             "Call my phone \"{name}\" from now on.")

    @classmethod
    def draw(cls, phone: PhoneSim, rng: random.Random) -> dict[str, Any]:
        return {"name": f"{rng.choice(['Studio', 'Travel', 'Kitchen', 'Lab'])} {rng.choice(['Phone', 'Pixel'])}"}

    @classmethod
    def derive(cls, phone: PhoneSim, inputs: dict[str, Any]) -> dict[str, Any]:
        require(0 < len(inputs["name"].strip()) <= 40, "the device name must be 1 to 40 characters")
        return inputs

    def succeeded(self, phone: PhoneSim) -> bool:
        return phone.app("settings").device_name == self.params["name"]

    def solve(self, o: Oracle) -> None:
        o.open("Settings")
        o.tap("About phone")
        o.tap("Device name")
        o.type(self.params["name"], into="Device name")
        o.tap("OK")
        o.complete()


class SettingsModelAnswer(Task):
    app, difficulty, kind, optimal = "Settings", "medium", "answer", 3
    goals = ("What model is this phone?", "Which phone model am I using?", "Tell me the model name of this phone.")

    def expected(self, phone: PhoneSim) -> str:
        return phone.app("settings").model

    def solve(self, o: Oracle) -> None:
        o.open("Settings")
        o.tap("About phone")
        o.answer(o.text_near("Model"))


class SettingsBatteryAnswer(Task):
    app, difficulty, kind, optimal, answer_kind = "Settings", "easy", "answer", 1, "count"
    goals = ("How much battery is left?", "What is the battery level, in percent?", "Check the battery charge.")

    def expected(self, phone: PhoneSim) -> int:
        return phone.battery

    def solve(self, o: Oracle) -> None:
        level = next(e.content_desc for e in o.look().elements if e.content_desc.startswith("Battery "))
        o.answer(level.removeprefix("Battery ").replace(" percent", "%"))


class SettingsNfcInfeasible(Task):
    app, difficulty, kind, optimal = "Settings", "easy", "infeasible", 3
    goals = ("Turn on NFC.", "Enable NFC so I can pay with my phone.", "Switch NFC on in Connected devices.")

    def solve(self, o: Oracle) -> None:
        o.open("Settings")
        o.tap("Connected devices")
        o.infeasible()   # the page has no NFC setting: this phone has none
