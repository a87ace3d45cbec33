"""EchoService: a minimal device-less service for checking a bus end to end (`podium echo`)."""
from __future__ import annotations

import time
from typing import Any

import numpy as np

from control.bus.rpc import idempotent


class EchoService:
    """Echoes what it gets, and makes sample observations; useful for smoke tests and benchmarks."""

    def __init__(self, seed: int = 0) -> None:
        self._rng = np.random.default_rng(seed)
        self.started_at = time.time()

    @idempotent
    def echo(self, value: Any) -> Any:
        """Return `value` unchanged (any wire type, arrays included)."""
        return value

    @idempotent
    def add(self, a: float, b: float) -> float:
        """a + b; raises TypeError on non-numbers, to show remote errors."""
        if not all(isinstance(x, (int, float)) for x in (a, b)):
            raise TypeError(f"add needs two numbers, got {type(a).__name__} and {type(b).__name__}")
        return a + b

    def sample(self, shape: list[int], dtype: str = "float32") -> np.ndarray:
        """A random array of the given shape and dtype (an observation, a screenshot...)."""
        if not isinstance(shape, (list, tuple)) or not all(isinstance(n, int) and n >= 0 for n in shape):
            raise ValueError(f"shape must be a list of non-negative ints, got {shape!r}")
        kind = np.dtype(dtype)
        if kind.kind in "iub":
            return self._rng.integers(0, 2 if kind.kind == "b" else 256, size=shape).astype(kind)
        return self._rng.standard_normal(size=shape).astype(kind)

    @idempotent
    def info(self) -> dict[str, Any]:
        """Uptime in seconds."""
        return {"uptime": time.time() - self.started_at}
