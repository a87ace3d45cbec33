"""The bus: wire format, RPC with deadlines, the hub (registry), daemons, PUB/SUB streams and
CurveZMQ security. Needs nothing beyond podium's core dependencies."""
