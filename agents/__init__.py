"""Policies that reach devices through the bus (Symphony, the GUI agent, EchoTrail memory).

Nothing here yet: this package exists so the layout is in place for the issues that fill it.
"""
