"""Install what a host needs: the bus and the phone contract import without the heavy extras, and
whatever needs an extra names it."""
from __future__ import annotations

import os
import sys
from importlib.metadata import requires

import pytest

from tests.conftest import podium

HEAVY = ["gymnasium", "mujoco", "torch", "stable_baselines3", "matplotlib", "PIL", "appium", "selenium"]


def hidden(tmp_path, modules: list[str]) -> dict:
    """An environment in which `modules` cannot be imported (as if their extra were not installed)."""
    (tmp_path / "sitecustomize.py").write_text(
        "import sys\n" + "".join(f"sys.modules[{m!r}] = None\n" for m in modules))
    return {**os.environ, "PYTHONPATH": f"{tmp_path}:{os.environ.get('PYTHONPATH', '')}"}


def test_the_core_requirements_hold_no_heavy_package():
    core = [r.split(";")[0].split(">")[0].split("[")[0].strip().lower()
            for r in requires("podium") if "extra ==" not in r]
    assert set(core) == {"pyzmq", "msgpack", "msgspec", "numpy", "rich", "click", "pydantic", "platformdirs",
                         "defusedxml"}


def test_the_bus_fleet_and_phone_contract_import_without_any_extra(tmp_path):
    import subprocess

    code = ("import control, control.bus.daemon, control.bus.streams, control.fleet.supervisor, control.phone\n"
            "from control import Daemon, connect, RemotePhone, JSONAction, check_phone\n"
            "import control.cli\n"
            f"heavy = [m for m in {HEAVY!r} if sys.modules.get(m) is not None]\n"
            "assert not heavy, heavy\nprint('light')")
    result = subprocess.run([sys.executable, "-c", "import sys\n" + code], capture_output=True, text=True,
                            env=hidden(tmp_path, HEAVY), timeout=60)
    assert result.returncode == 0 and result.stdout.strip() == "light", result.stderr
    help_text = podium("--help", env=hidden(tmp_path, HEAVY)).stdout
    for command in ("hub", "up", "android", "sim", "train", "demo"):
        assert f" {command} " in help_text


@pytest.mark.parametrize("args, modules, extra", [
    (["sim", "pendulum"], ["gymnasium"], "mujoco"),
    (["train", "symphony", "--env", "Pendulum-v1"], ["torch"], "rl"),
    (["plot", "."], ["matplotlib"], "rl"),
    (["android", "--udid", "x"], ["appium"], "android"),
    (["demo"], ["mujoco"], "all"),
])
def test_each_command_names_the_extra_it_needs(tmp_path, args, modules, extra):
    result = podium(*args, env=hidden(tmp_path, modules), timeout=60)
    assert result.returncode == 1, result.stderr
    assert f"needs the '{extra}' extra: pip install 'podium[{extra}]'" in result.stderr
    assert modules[0] in result.stderr and "Traceback" not in result.stderr


def test_remote_env_without_gymnasium_names_the_gym_extra(tmp_path):
    import subprocess

    code = ("from control.extras import MissingExtra\ntry:\n    from control import RemoteEnv\n"
            "except MissingExtra as exc:\n    print(exc)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env=hidden(tmp_path, ["gymnasium"]), timeout=60)
    assert "control.gym (remote gymnasium envs) needs the 'gym' extra: pip install 'podium[gym]' " \
           "(not installed: gymnasium)" in result.stdout, result.stderr
