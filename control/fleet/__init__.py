"""The fleet: a TOML config validated by pydantic, the supervisor behind `podium up`, its CLI,
and device kinds found through the `podium.devices` entry point."""
