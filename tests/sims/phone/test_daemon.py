"""`podium sim phone`: one phone, on the bus and over HTTP at once, and under `podium up`."""
from __future__ import annotations

from control import RemotePhone
from control.bus.hub import HubClient, wait_for_service
from control.phone import check_phone
from tests.conftest import fleet_up, podium, supervised


def test_remote_phone_through_the_daemon_passes_the_strict_check(sim_daemon, hub):
    report = check_phone(RemotePhone(sim_daemon, hub=hub.endpoint), strict=True)
    assert report.unsupported == {}


def test_the_bus_and_http_sides_drive_one_phone(sim_daemon, hub):
    from devices.android.device import AndroidDevice

    with HubClient(hub.endpoint) as client:
        record = client.lookup(sim_daemon)
    assert record["kind"] == "phone-sim" and record["capabilities"]["http"].startswith("http://127.0.0.1:")
    remote = RemotePhone(sim_daemon, hub=hub.endpoint)
    remote.act({"action_type": "open_app", "app_name": "Notes"})            # through the bus...
    with AndroidDevice(record["capabilities"]["http"], "sim", settle=0) as over_http:
        assert over_http.current_app() == "com.podium.notes"                # ...seen over HTTP
        over_http.act({"action_type": "navigate_home"})
    assert remote.current_app() == "com.google.android.apps.nexuslauncher"


def test_podium_up_starts_a_phone_sim_entry(tmp_path):
    with fleet_up(tmp_path, '[[devices]]\nname = "sim:phone-0"\nkind = "phone-sim"\nseed = 4\n',
                  stop_timeout=5) as (hub, state):
        with HubClient(hub) as client:
            wait_for_service(client, "sim:phone-0", timeout=60)
        with RemotePhone("sim:phone-0", hub=hub) as remote:
            assert remote.spec["seed"] == 4 and remote.observe().screen_size == (1080, 2400)
        row = supervised(state)["sim:phone-0"]
        assert row["kind"] == "phone-sim" and row["state"] == "running"


def test_a_busy_http_port_is_one_clear_line(hub):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = podium("sim", "phone", "--hub", hub.endpoint, "--http", str(port), timeout=60)
    assert result.returncode == 1 and "could not listen on 127.0.0.1" in result.stderr
    assert "Traceback" not in result.stderr
