"""`podium sim phone`: the phone simulator as a daemon on the bus, and optionally over HTTP."""
from __future__ import annotations

import click

from control.bus.options import daemon_options, make_daemon
from control.extras import needs_extra
from control.terminal import errors, fail


@needs_extra("phone-sim", "PIL", "starlette", "uvicorn", "lxml")
@click.command()
@click.option("--name", default="sim:phone-0", show_default=True, help="Service name in the hub.")
@click.option("--seed", default=0, show_default=True, help="Content and clock of the phone (apps, contacts...).")
@click.option("--width", default=1080, show_default=True, type=click.IntRange(240, 4096), help="Screen width.")
@click.option("--height", default=2400, show_default=True, type=click.IntRange(400, 8192), help="Screen height.")
@click.option("--http", "http_port", type=click.IntRange(0, 65535),
              help="Also speak the Appium (W3C WebDriver) protocol on this port (0: any free port).")
@click.option("--http-host", default="127.0.0.1", show_default=True,
              help="Where the HTTP side listens; it has no authentication, like an Appium server.")
@daemon_options
def phone(name: str, seed: int, width: int, height: int, http_port: int | None, http_host: str, hub_endpoint: str,
          bind: str, keys) -> None:
    """Run the phone simulator: a PhoneDevice on the bus, and with --http an Appium endpoint."""
    from control.bus.security import is_local_endpoint
    from sims.phone.phone import PhoneSim
    from sims.phone.server import PhoneServer
    from sims.phone.service import PhoneSimService

    device = PhoneSim(seed, width=width, height=height, name=name)
    http = None
    if http_port is not None:
        if not is_local_endpoint(f"tcp://{http_host}:{http_port}"):
            errors.print(f"warning: the Appium endpoint on {http_host} has no authentication: anyone who can "
                         "reach it can drive this phone")
        try:
            http = PhoneServer(device).serve(http_host, http_port)
        except OSError as exc:
            fail(str(exc))
    service = PhoneSimService(device, http.url if http else None)
    capabilities = {"seed": seed, "screen_size": [width, height], "http": http.url if http else None}
    daemon = make_daemon(service, name, "phone-sim", hub_endpoint=hub_endpoint, bind=bind, keys=keys,
                         capabilities=capabilities)
    if http is not None:
        click.echo(f"{name}: Appium endpoint at {http.url}", err=True)
    try:
        daemon.run()
    finally:
        if http is not None:
            http.stop()
