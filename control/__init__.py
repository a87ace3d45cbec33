"""podium's bus: wire format, RPC, hub, daemons, streams, security and the CLI.

`control` imports none of `agents`, `sims` or `devices`: they build on it.
"""
from control.errors import (CallTimeout, PodiumError, RemoteError, ServiceNotFound,  # noqa: F401
                            WireError)
from control.rpc import Client, Server, idempotent  # noqa: F401

__all__ = ["CallTimeout", "Client", "PodiumError", "RemoteError", "Server", "ServiceNotFound",
           "WireError", "idempotent"]
