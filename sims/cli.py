"""`podium sim`: every simulated device's daemon under one command.

    podium sim humanoid --envs 8        a gymnasium (MuJoCo) env daemon, as before
    podium sim phone --http 4723        the phone simulator

Each simulator family keeps its own command in its own package; this group only routes: a first
argument naming a subcommand goes there, anything else is an env id for the gymnasium daemon.
"""
from __future__ import annotations

import click

from sims.mujoco.cli import sim as env_command
from sims.phone.cli import phone


class SimGroup(click.Group):
    def resolve_command(self, ctx: click.Context, args: list[str]):
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            return "env", self.commands["env"], args
        return super().resolve_command(ctx, args)


@click.group(cls=SimGroup)
def sim() -> None:
    """Run a simulated device: `podium sim ENV` (gymnasium/MuJoCo) or `podium sim phone`."""


sim.add_command(env_command, "env")
sim.add_command(phone, "phone")
