"""Simulated devices served as daemons (MuJoCo env services, the phone simulator).

Nothing here yet: this package exists so the layout is in place for the issues that fill it.
"""
