"""Episode pages: written by `podium episodes show RUN`, loaded in headless Chromium (Debian's
`chromium`, which scripts/setup.sh installs): no errors, every step shown with its screenshot, the
tap or swipe drawn, the index linking every episode."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from agents.gui.episodes import EpisodeError, load_episode, write_pages
from tests.conftest import podium

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.fail("Debian's chromium and chromium-driver are needed: run scripts/setup.sh (it installs them)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--allow-file-access-from-files", "--window-size=1200,1600"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def pages(evaluated, tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("pages") / "run"
    shutil.copytree(evaluated, run)
    result = podium("episodes", "show", str(run))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("index.html")
    return run


def _errors(browser) -> list[dict]:
    return [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]


def test_every_episode_page_loads_cleanly_and_shows_every_step(browser, pages):
    from selenium.webdriver.common.by import By

    folders = sorted((pages / "episodes").iterdir())
    assert folders
    for folder in folders:
        meta, steps = load_episode(folder)
        browser.get((folder / "episode.html").as_uri())
        assert _errors(browser) == []
        sections = browser.find_elements(By.CSS_SELECTOR, "section.step:not(#final)")
        assert len(sections) == len(steps) == meta["actions"]
        for section, step in zip(sections, steps):
            image = section.find_element(By.TAG_NAME, "img")
            assert browser.execute_script("return arguments[0].complete && arguments[0].naturalWidth", image) == 360
            text = section.text
            assert f"Step {step['step']}" in text and step["summary"] in text
            if step["action"]:
                assert json.dumps(step["action"]) in text
            gestures = section.find_elements(By.CSS_SELECTOR, "svg .gesture")
            assert len(gestures) == (1 if step["point"] or step["path"] else 0)
        verdict = browser.find_element(By.ID, "verdict").text
        assert verdict == ("success" if meta["success"] else "failure")


def test_a_tap_is_drawn_where_it_landed(browser, pages):
    from selenium.webdriver.common.by import By

    for folder in sorted((pages / "episodes").iterdir()):
        _, steps = load_episode(folder)
        tapped = [s for s in steps if s["point"] and not s["path"]]
        if tapped:
            browser.get((folder / "episode.html").as_uri())
            circle = browser.find_element(By.CSS_SELECTOR, f"#step-{tapped[0]['step']} circle.gesture")
            assert [int(circle.get_attribute("cx")), int(circle.get_attribute("cy"))] == tapped[0]["point"]
            return
    pytest.fail("no episode in the run tapped anything")


def test_the_index_links_every_episode(browser, pages):
    from selenium.webdriver.common.by import By

    browser.get((pages / "index.html").as_uri())
    assert _errors(browser) == []
    links = browser.find_elements(By.CSS_SELECTOR, "#episodes a")
    assert len(links) == len(list((pages / "episodes").iterdir()))
    report = json.loads((pages / "report.json").read_text())
    table = browser.find_element(By.ID, "by-difficulty").text
    assert all(f"{name} {row['episodes']} " in table for name, row in report["by_difficulty"].items())
    links[0].click()
    assert browser.current_url.endswith("episode.html") and _errors(browser) == []


def test_a_torn_last_line_is_skipped_and_a_missing_run_is_a_clear_error(tmp_path, evaluated):
    folder = tmp_path / "run" / "episodes" / "e"
    shutil.copytree(next((evaluated / "episodes").iterdir()), folder)
    lines = (folder / "steps.jsonl").read_text()
    (folder / "steps.jsonl").write_text(lines + '{"step": 99, "raw": "cut o')     # a crash mid-write
    _, steps = load_episode(folder)
    assert len(steps) == len(lines.splitlines())
    assert write_pages(tmp_path / "run").exists()
    with pytest.raises(EpisodeError, match="holds no episodes"):
        write_pages(tmp_path)
    result = podium("episodes", "show", str(tmp_path))
    assert result.returncode == 1 and "holds no episodes" in result.stderr and "Traceback" not in result.stderr
