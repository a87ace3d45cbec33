"""The podium command line: real processes, real exit codes."""
from __future__ import annotations

import json
import stat

import pytest
from click.testing import CliRunner

from control.bus.daemon import Daemon
from control.bus.echo import EchoService
from control.bus.hub import Hub
from control.cli import cli
from tests.conftest import podium


def test_version():
    result = podium("--version")
    assert result.returncode == 0 and result.stdout.startswith("podium, version ")


@pytest.mark.parametrize("args, words", [
    (["call"], "Missing argument 'NAME'"),
    (["call", "echo:0", "add", "{not json"], "not valid JSON"),
    (["frobnicate"], "No such command 'frobnicate'"),
    (["demo", "--calls", "3"], "not in the range"),
    (["ls", "--keys", "/nonexistent/key"], "does not exist"),
])
def test_bad_usage_exits_2_with_a_message(args, words):
    result = podium(*args)
    assert result.returncode == 2
    assert words in result.stderr


@pytest.fixture
def hub_with_echo(tcp_endpoint):
    with Hub(tcp_endpoint) as hub, Daemon(EchoService(), "echo:cli", "echo", hub=tcp_endpoint):
        yield hub


def test_ls_and_call(hub_with_echo):
    runner = CliRunner()
    from tests.conftest import wait_until
    wait_until(lambda: "echo:cli" in runner.invoke(cli, ["ls", "--hub", hub_with_echo.endpoint]).output)
    result = runner.invoke(cli, ["call", "echo:cli", "add", "[2, 3]", "--hub", hub_with_echo.endpoint])
    assert result.exit_code == 0 and json.loads(result.output) == 5
    result = runner.invoke(cli, ["call", "echo:cli", "sample", '{"shape": [2, 2], "dtype": "uint8"}',
                                 "--hub", hub_with_echo.endpoint])
    assert result.exit_code == 0 and len(json.loads(result.output)) == 2
    result = runner.invoke(cli, ["call", "echo:cli", "add", '["a", 1]', "--hub", hub_with_echo.endpoint])
    assert result.exit_code == 1 and "TypeError" in result.output


@pytest.mark.parametrize("command", [["hub", "--bind", "tcp://0.0.0.0:0"],
                                     ["echo", "--bind", "tcp://0.0.0.0:*"],
                                     ["sim", "pendulum", "--bind", "tcp://0.0.0.0:*", "--render-mode", "none"]])
def test_every_server_refuses_a_bind_beyond_loopback_without_keys_in_one_line(command):
    result = podium(*command)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]  # one line
    assert "refusing to bind tcp://0.0.0.0:" in result.stderr and "without CurveZMQ keys" in result.stderr


@pytest.mark.parametrize("args, words", [
    (["echo", "--keys", "{client}"], "needs an allow-list"),
    (["echo", "--hub-key", "{hub}"], "without this member's own key pair"),
    (["ls", "--keys", "{client}"], "--keys needs --hub-key"),
    (["call", "x", "ping", "--service-key", "{hub}"], "--service-key needs --keys"),
])
def test_incomplete_keys_are_named(keyring, args, words):
    paths = {"client": keyring.secret("client"), "hub": keyring.public("hub")}
    result = podium(*[a.format(**paths) for a in args])
    assert result.returncode in (1, 2) and words in result.stderr and "Traceback" not in result.stderr


def test_call_unknown_service_and_unreachable_hub_fail_clearly(hub_with_echo, tcp_endpoint):
    result = podium("call", "ghost", "ping", "--hub", hub_with_echo.endpoint)
    assert result.returncode == 1 and "no live service named 'ghost'" in result.stderr
    result = podium("ls", "--hub", "tcp://127.0.0.1:1")
    assert result.returncode == 1 and "hub at tcp://127.0.0.1:1" in result.stderr


def test_hub_refuses_public_bind_without_keys():
    result = podium("hub", "--bind", "tcp://0.0.0.0:0")
    assert result.returncode == 1 and "refusing to bind" in result.stderr


def test_keys_command_writes_private_files(tmp_path):
    result = podium("keys", "robot", "--dir", str(tmp_path))
    assert result.returncode == 0
    for name in ("robot.key", "robot.key_secret"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600


def test_keys_for_a_fleet_in_one_go_fill_the_allow_list_and_never_replace_a_pair(tmp_path):
    allowed = tmp_path / "allowed"
    result = podium("keys", "hub", "host-a", "learner", "--dir", str(tmp_path), "--allow", str(allowed))
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in allowed.iterdir()) == ["host-a.key", "hub.key", "learner.key"]
    assert (allowed / "hub.key").read_bytes() == (tmp_path / "hub.key").read_bytes()
    secret = (tmp_path / "hub.key_secret").read_bytes()
    again = podium("keys", "hub", "--dir", str(tmp_path))
    assert again.returncode == 1 and "exists already" in again.stderr
    assert (tmp_path / "hub.key_secret").read_bytes() == secret


def test_demo_runs_end_to_end():
    result = podium("demo", "--calls", "200")
    assert result.returncode == 0, result.stderr
    assert "The demo showed" in result.stdout and "unregistered from the hub" in result.stdout
