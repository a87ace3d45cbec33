"""The explorer on the phone simulator, through PhoneDevice only: curiosity reaches the pages inside
an app's rows, finds what a slider does by tapping its ends, and the goal it proposes from that is
pursued from the home screen, judged by the critic and stored with where the tap landed."""
from __future__ import annotations

from agents.echotrail.explorer import Explorer
from agents.echotrail.memory import EchoTrail
from agents.echotrail.store import MemoryStore
from agents.gui.agent import AgentConfig, GuiAgent
from agents.gui.backends.offline import OfflineBackend
from sims.phone.phone import PhoneSim


def _explore(tmp_path, seed: int = 0, goals: int = 12):
    phone = PhoneSim(seed)
    memory = EchoTrail(MemoryStore(tmp_path / "memory.db"))
    explorer = Explorer(phone, GuiAgent(OfflineBackend(), AgentConfig(max_steps=15)),
                        lambda goal, result: memory.remember(goal, result, provenance="explored"),
                        curiosity_steps=150, goals=goals, seed=seed)
    return phone, memory, explorer.run()


def test_curiosity_enters_settings_pages_and_finds_a_sliders_ends(tmp_path):
    _, _, report = _explore(tmp_path, goals=0)
    assert {"settings/DisplaySettings", "settings/NetworkDashboard"} <= set(report.findings.screens)
    route = report.findings.levels[("Settings", "Brightness level", "max")]
    tap = route[-2]                     # the slider's tap, before the status that ends the route
    assert tap["screen"] == "settings/DisplaySettings" and tap["at"][0] > 0.95, route
    assert route[0] == {"screen": "nexuslauncher/NexusLauncher", "action": "open_app", "text": "Settings"}


def test_a_level_goal_proposed_from_a_slider_is_pursued_and_remembered_with_its_tap(tmp_path):
    phone, memory, report = _explore(tmp_path)
    pursued = [g for g in report.goals if g["goal"].startswith("Set brightness level to its")]
    assert pursued and pursued[0]["accepted"], report.goals
    # curiosity left it at the maximum, so the goal asks for the other end, and the phone shows it
    assert pursued[0]["goal"] == "Set brightness level to its minimum." and phone.app("settings").brightness <= 0.05
    stored = memory.store.get(pursued[0]["id"])
    slider = [s for s in stored.steps if s.target == "Brightness level"]
    assert slider and slider[-1].at is not None and slider[-1].at[0] < 0.05, stored.steps
