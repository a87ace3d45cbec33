"""Fixtures for AndroidDevice against a real Appium server with the fake driver."""
from __future__ import annotations

from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"


@pytest.fixture
def fake_caps() -> dict:
    """Capabilities for Appium's fake driver serving a Settings screen in UiAutomator2's format."""
    return {"platformName": "Fake", "appium:automationName": "Fake",
            "appium:app": str(DATA / "settings.xml")}


@pytest.fixture
def phone(appium, fake_caps):
    """An AndroidDevice on the fake driver, observed once (no settling: the fake never animates)."""
    from devices.android.device import AndroidDevice

    device = AndroidDevice(appium.url, "fake-1", capabilities=fake_caps, settle=0, wait_seconds=0,
                           command_timeout=5)
    device.observe()
    yield device
    device.close()
