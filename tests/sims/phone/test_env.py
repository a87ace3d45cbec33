"""The phone task as a gymnasium env: it passes gymnasium's own checker, and an episode pays 1 on
success and ends on status or answer."""
from __future__ import annotations

import json

import gymnasium as gym
import numpy as np
from gymnasium.utils.env_checker import check_env

import sims.phone.env  # noqa: F401  (registers podium/Phone-v0)
from sims.phone.env import PhoneEnv


def test_gymnasiums_env_checker_passes():
    check_env(PhoneEnv("SettingsWifi", width=360, height=800), skip_render_check=True)


def test_an_episode_pays_one_on_success():
    env = gym.make("podium/Phone-v0", task="SettingsBluetooth", width=360, height=800)
    obs, info = env.reset(seed=5)
    assert obs["screenshot"].shape == (800, 360, 3) and "Bluetooth" in info["goal"]
    assert set(info) == {"goal", "task", "difficulty", "kind", "optimal_steps", "success"}   # no parameters
    want_on = "on" in info["goal"].split("Bluetooth")[-1] or "to on" in info["goal"]
    steps = [{"action_type": "open_app", "app_name": "Settings"}]
    total, terminated = 0.0, False
    for action in steps:
        obs, reward, terminated, truncated, info = env.step(json.dumps(action))
        total += reward
    elements = json.loads(obs["elements"])
    row = next(i for i, e in enumerate(elements) if e["text"] == "Connected devices")
    obs, reward, terminated, truncated, info = env.step({"action_type": "click", "index": row})
    elements = json.loads(obs["elements"])
    switch = next(i for i, e in enumerate(elements) if e["content_desc"] == "Bluetooth" and e["checkable"])
    assert elements[switch]["checked"] != want_on
    obs, reward, terminated, truncated, info = env.step({"action_type": "click", "index": switch})
    assert reward == 1.0 and terminated and info["success"] and not truncated


def test_bad_actions_cost_a_step_and_say_why():
    env = PhoneEnv("NotesCreate", width=360, height=800, max_steps=2)
    env.reset(seed=0)
    obs, reward, terminated, truncated, info = env.step("{this is not json")
    assert reward == 0 and not terminated and "not valid JSON" in info["error"]
    obs, reward, terminated, truncated, info = env.step({"action_type": "click", "index": 999})
    assert "out of range" in info["error"] and truncated and not terminated


def test_answers_end_the_episode_and_are_judged():
    env = PhoneEnv("SettingsBatteryAnswer", width=360, height=800)
    env.reset(seed=1)
    battery = env.phone.battery
    _, reward, terminated, _, _ = env.step({"action_type": "answer", "text": f"{battery}%"})
    assert terminated and reward == 1.0
    env.reset(seed=1)
    _, reward, terminated, _, _ = env.step({"action_type": "answer", "text": "full"})
    assert terminated and reward == 0.0


def test_reset_with_the_same_seed_gives_the_same_episode():
    env = PhoneEnv(tasks=["ContactsAddContact", "ClockAddAlarm"], width=360, height=800)
    a, info_a = env.reset(seed=11)
    b, info_b = env.reset(seed=11)
    assert info_a["goal"] == info_b["goal"] and np.array_equal(a["screenshot"], b["screenshot"])
