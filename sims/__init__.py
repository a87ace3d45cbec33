"""Simulated devices served as daemons: `mujoco/` (gymnasium env services); the phone simulator
joins as `phone/`."""
