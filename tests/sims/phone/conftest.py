"""Fixtures for the phone simulator: in process and over HTTP (a real server on a free port); the
daemon fixture (`sim_daemon`) is shared, in tests/conftest.py."""
from __future__ import annotations

import pytest


@pytest.fixture
def phone():
    from sims.phone.phone import PhoneSim

    return PhoneSim(0)


@pytest.fixture
def http_phone(phone):
    """`phone` behind the Appium protocol on 127.0.0.1 (a real uvicorn server on a free port)."""
    from sims.phone.server import PhoneServer

    server = PhoneServer(phone).serve("127.0.0.1", 0)
    yield server
    server.stop()


@pytest.fixture
def appium_client(http_phone):
    """Plain appium-python-client, no podium code on the client side: a session on the simulator."""
    from appium import webdriver
    from appium.options.common import AppiumOptions

    options = AppiumOptions().load_capabilities({"platformName": "Android", "appium:automationName": "UiAutomator2"})
    driver = webdriver.Remote(http_phone.url, options=options)
    yield driver
    try:
        driver.quit()
    except Exception:
        pass
