"""`podium sim`: run an env daemon (registered into the podium CLI through an entry point)."""
from __future__ import annotations

import click

from control.bus.options import daemon_options, make_daemon
from control.extras import MissingExtra, needs_extra
from control.terminal import fail, json_object


@needs_extra("mujoco", "gymnasium")
@click.command()
@click.argument("env", default="humanoid")
@click.option("--envs", "num_envs", default=1, show_default=True, type=click.IntRange(1, 4096),
              help="How many copies of the env this daemon hosts.")
@click.option("--name", help="Service name in the hub [default: sim:ENV-0].")
@click.option("--env-kwargs", help="JSON object passed to gymnasium.make, e.g. "
              "'{\"terminate_when_unhealthy\": false}'.")
@click.option("--threads", default=1, show_default=True, type=click.IntRange(1, 256),
              help="Threads that step the envs of a batched step, each its own slice (MuJoCo "
              "simulates without the GIL, so one daemon can use that many cores).")
@click.option("--render-mode", default="rgb_array", show_default=True,
              type=click.Choice(["rgb_array", "none"]), help="Offscreen rendering, or none.")
@daemon_options
def sim(env: str, num_envs: int, name: str | None, env_kwargs: str | None, threads: int, render_mode: str,
        hub_endpoint: str, bind: str, keys) -> None:
    """Serve NUM copies of a gymnasium env (humanoid, walker, ant, hopper, pendulum or any id)."""
    from sims.mujoco.env_service import EnvService

    kwargs = json_object(env_kwargs, "--env-kwargs")
    try:
        service = EnvService(env, num_envs, kwargs, None if render_mode == "none" else render_mode,
                             threads=threads)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="ENV / --env-kwargs") from None
    except MissingExtra as exc:
        fail(str(exc))
    name = name or f"sim:{env.lower()}-0"
    capabilities = {"env_id": service.env_id, "num_envs": num_envs, "threads": service.threads}
    make_daemon(service, name, "sim", hub_endpoint=hub_endpoint, bind=bind, keys=keys,
                capabilities=capabilities).run()
