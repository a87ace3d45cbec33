"""Fleet config validation: every mistake is named with its file, entry and field."""
from __future__ import annotations

import pytest

from control.fleet.config import ConfigError, load_config
from control.fleet.supervisor import CannotStart, check_startable

GOOD = """
[hub]
address = "tcp://127.0.0.1:5770"
[supervisor]
max_restarts = 3
[[devices]]
name = "sim:humanoid-0"
kind = "mujoco"
envs = 8
kwargs = { terminate_when_unhealthy = false }
[[devices]]
name = "android:pixel"
kind = "android"
udid = "emulator-5554"
[[devices]]
name = "custom:0"
kind = "command"
argv = ["python3", "daemon.py"]
"""


def write(tmp_path, text: str):
    path = tmp_path / "podium.toml"
    path.write_text(text)
    return path


def test_a_good_config_loads_with_defaults(tmp_path):
    config = load_config(write(tmp_path, GOOD))
    assert [d.kind for d in config.devices] == ["mujoco", "android", "command"]
    assert config.devices[0].env == "Humanoid-v5" and config.supervisor.max_restarts == 3
    assert config.devices[1].appium == "http://127.0.0.1:4723"
    argv = config.devices[0].daemon_argv(config.hub.address)
    assert argv[3:] == ["sim", "Humanoid-v5", "--envs", "8", "--threads", "1", "--name", "sim:humanoid-0", "--hub",
                        "tcp://127.0.0.1:5770", "--env-kwargs", '{"terminate_when_unhealthy": false}',
                        "--render-mode", "rgb_array"]


@pytest.mark.parametrize("text, words", [
    ('[[devices]]\nname = "x"\nkind = "teleporter"\n',
     ["devices[0] (name 'x')", "field 'kind'", "unknown kind 'teleporter'"]),
    ('[[devices]]\nname = "and"\nkind = "android"\n',
     ["devices[0] (name 'and')", "field 'udid'", "Field required"]),
    ('[[devices]]\nname = "x"\n', ["devices[0] (name 'x')", "field 'kind'", "missing (one of", "android",
                                    "command", "mujoco"]),
    ('[[devices]]\nkind = "mujoco"\n', ["devices[0]", "field 'name'", "Field required"]),
    ('[[devices]]\nname = "a"\nkind = "mujoco"\n[[devices]]\nname = "a"\nkind = "mujoco"\n',
     ["duplicate device name 'a'"]),
    ('[hub]\naddress = "tcp://127.0.0.1:99999"\n', ["[hub]", "field 'address'", "port '99999'"]),
    ('[hub]\naddress = "http://x:1"\n', ["[hub]", "not a tcp:// or ipc:// address"]),
    ('[[devices]]\nname = "s"\nkind = "mujoco"\nenvs = "many"\n', ["devices[0] (name 's')", "field 'envs'"]),
    ('[[devices]]\nname = "s"\nkind = "mujoco"\ncolour = "red"\n', ["field 'colour'", "Extra inputs"]),
    ('[supervisor]\nmax_restarts = 0\n', ["[supervisor]", "field 'max_restarts'"]),
    ('[[devices]]\nname = "bad name!"\nkind = "mujoco"\n', ["field 'name'", "pattern"]),
    ('[[devices]]\nname = "a"\nkind = "android"\nudid = "x"\nappium = "localhost"\n',
     ["field 'appium'", "not an http(s) URL"]),
    ('devices = 3\n', ["top level", "field 'devices'", "array of tables"]),
    ("[hub\n", ["not valid TOML", "line 1"]),
    ('[hub]\naddress = "tcp://10.0.0.1:5770"\n', ["[hub]", "not on loopback", "CurveZMQ 'keys'"]),
    ('[daemons]\nbind = "tcp://10.0.0.2:*"\n', ["[daemons]", "beyond loopback", "need CurveZMQ 'keys'"]),
    ('[daemons]\nallow = "keys/allowed"\n', ["[daemons]", "'hub_key' and 'allow' need 'keys'"]),
    ('[hub]\naddress = "tcp://10.0.0.1:5770"\nstart = false\n[[devices]]\nname = "s"\nkind = "mujoco"\n',
     ["the hub is secured", "[daemons] 'keys'"]),
    ('[hub]\nstart = false\n[daemons]\nkeys = "k.key_secret"\n', ["[daemons] needs 'hub_key'"]),
    ('[daemons]\nbind = "tcp://0.0.0.0:*"\nkeys = "k"\nhub_key = "h"\n', ["binds every interface"]),
    ('[daemons]\nbind = "tcp://127.0.0.1"\n', ["[daemons]", "has no host:port"]),
    ('[daemons]\nkeys = "k"\nhub_key = "h"\n', ["the hub this config starts has none"]),
    ('[hub]\nstart = false\nkeys = "hub.key_secret"\nallow = "a"\n[daemons]\nkeys = "k"\nhub_key = "h"\n',
     ["belongs on the hub's host only"]),
    ('[daemons]\nbind = "tcp://127.0.0.1:7001"\n[[devices]]\nname = "a"\nkind = "mujoco"\n'
     '[[devices]]\nname = "b"\nkind = "mujoco"\n', ["names one port for 2 daemons"]),
])
def test_each_mistake_is_named(tmp_path, text, words):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert str(path) in message
    for word in words:
        assert word in message, (word, message)


def test_missing_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "nope.toml")


def test_each_kind_builds_its_own_daemon_command(tmp_path):
    config = load_config(write(tmp_path, GOOD))
    android, command = config.devices[1], config.devices[2]
    assert android.daemon_argv("tcp://127.0.0.1:5770")[3:] == [
        "android", "--udid", "emulator-5554", "--appium", "http://127.0.0.1:4723", "--name",
        "android:pixel", "--hub", "tcp://127.0.0.1:5770"]
    assert command.daemon_argv("tcp://127.0.0.1:5770") == ["python3", "daemon.py"]


def test_a_kind_whose_extra_is_missing_is_refused_before_starting(tmp_path, monkeypatch):
    import control.fleet.kinds as kinds

    config = load_config(write(tmp_path, GOOD))
    monkeypatch.setattr(kinds, "missing_modules", lambda *modules: [m for m in modules if m == "appium"])
    with pytest.raises(CannotStart, match=r"device 'android:pixel' \(kind 'android'\) needs the "
                                          r"'android' extra: pip install 'podium\[android\]'"):
        check_startable(config)


def test_the_example_config_in_the_repository_is_valid_and_startable():
    from pathlib import Path

    config = load_config(Path(__file__).parents[3] / "podium.example.toml")
    check_startable(config)
    assert [d.name for d in config.devices] == ["sim:humanoid-0", "sim:walker-0", "sim:phone-0", "memory:0", "echo:0"]


def test_a_secured_config_hands_its_daemons_the_keys(tmp_path, keyring):
    config = load_config(write(tmp_path, f"""
[hub]
address = "tcp://127.0.0.1:5770"
keys = "{keyring.secret('hub')}"
allow = "{keyring.allow}"
[daemons]
bind = "tcp://127.0.0.1:*"
keys = "{keyring.secret('host-a')}"
[[devices]]
name = "echo:0"
kind = "command"
argv = ["podium", "echo"]
"""))
    assert config.daemon_keys() == {"PODIUM_KEYS": keyring.secret("host-a"),
                                    "PODIUM_HUB_KEY": keyring.public("hub"),   # the .key beside it
                                    "PODIUM_ALLOW": keyring.allow}
    keys = check_startable(config)
    assert keys.hub_public == keyring.fleet_keys("hub").keys.public


def test_keys_that_cannot_be_read_are_refused_before_starting(tmp_path, keyring):
    config = load_config(write(tmp_path, f"""
[hub]
start = false
[daemons]
keys = "{keyring.public('host-a')}"
hub_key = "{keyring.public('hub')}"
allow = "{keyring.allow}"
"""))
    with pytest.raises(CannotStart, match=r"\[daemons\] keys: .*host-a.key holds no secret key"):
        check_startable(config)


def test_a_hub_key_file_without_its_secret_half_is_refused_before_starting(tmp_path, keyring):
    config = load_config(write(tmp_path, f"""
[hub]
keys = "{keyring.public('hub')}"
allow = "{keyring.allow}"
"""))
    with pytest.raises(CannotStart, match=r"\[hub\] keys: .*hub.key holds no secret key"):
        check_startable(config)
