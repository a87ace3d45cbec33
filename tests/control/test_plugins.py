"""Commands and device kinds arrive through entry points; a name claimed twice stops podium."""
from __future__ import annotations

import os

import pytest

from tests.conftest import podium


def plugin_dist(tmp_path, group: str, entries: dict[str, str]) -> dict:
    """An installed distribution (a .dist-info on PYTHONPATH) registering `entries` in `group`."""
    info = tmp_path / "podium_rival-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: podium-rival\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[{group}]\n" + "".join(f"{k} = {v}\n" for k, v in entries.items()))
    (tmp_path / "rival.py").write_text(
        "import click\nfrom control.fleet.kinds import DeviceConfig\n"
        "@click.command()\ndef hello():\n    click.echo('hello from a plugin')\n"
        "class Toaster(DeviceConfig):\n    slots: int = 2\n"
        "    def daemon_argv(self, hub):\n        return ['toaster', '--slots', str(self.slots)]\n")
    return {**os.environ, "PYTHONPATH": f"{tmp_path}:{os.environ.get('PYTHONPATH', '')}"}


def test_a_plugin_command_joins_the_cli(tmp_path):
    env = plugin_dist(tmp_path, "podium.commands", {"hello": "rival:hello"})
    result = podium("hello", env=env, timeout=60)
    assert result.returncode == 0 and result.stdout.strip() == "hello from a plugin"


@pytest.mark.parametrize("name, owner", [("sim", "sims.cli:sim"), ("up", "podium itself")])
def test_a_command_name_claimed_twice_is_an_error_at_start_up(tmp_path, name, owner):
    env = plugin_dist(tmp_path, "podium.commands", {name: "rival:hello"})
    result = podium("--help", env=env, timeout=60)
    assert result.returncode == 1
    assert f"the command name {name!r} is claimed twice: by {owner} and by rival:hello" in result.stderr


def test_a_plugin_that_cannot_load_says_why_when_used(tmp_path):
    env = plugin_dist(tmp_path, "podium.commands", {"broken": "no_such_module:thing"})
    assert podium("ls", "--help", env=env, timeout=60).returncode == 0   # the rest still works
    result = podium("broken", env=env, timeout=60)
    assert result.returncode == 1 and "'broken' (no_such_module:thing) cannot be loaded" in result.stderr


def test_a_device_kind_from_another_package_is_validated_and_started_by_its_own_model(tmp_path):
    env = plugin_dist(tmp_path, "podium.devices", {"toaster": "rival:Toaster"})
    config = tmp_path / "fleet.toml"
    config.write_text('[[devices]]\nname = "kitchen:0"\nkind = "toaster"\nslots = "four"\n')
    result = podium("export", "systemd", str(config), "--out", str(tmp_path / "units"), env=env, timeout=60)
    assert result.returncode == 1 and "devices[0] (name 'kitchen:0'), field 'slots'" in result.stderr
    config.write_text('[[devices]]\nname = "kitchen:0"\nkind = "toaster"\nslots = 4\n')
    result = podium("export", "systemd", str(config), "--out", str(tmp_path / "units"), env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "ExecStart=toaster --slots 4" in (tmp_path / "units" / "podium-kitchen_0.service").read_text()


def test_a_device_kind_registered_twice_is_refused(tmp_path):
    env = plugin_dist(tmp_path, "podium.devices", {"mujoco": "rival:Toaster"})
    config = tmp_path / "fleet.toml"
    config.write_text('[[devices]]\nname = "sim:0"\nkind = "mujoco"\n')
    result = podium("export", "systemd", str(config), "--out", str(tmp_path / "units"), env=env, timeout=60)
    assert result.returncode == 1
    assert "device kind 'mujoco' is registered twice: by sims.mujoco.kind:MujocoDevice and by rival:Toaster" \
        in result.stderr
