"""gymnasium spaces described as plain wire trees (never pickled), and back.

    Box           {"type": "Box", "low": array, "high": array, "dtype": str}
    Discrete      {"type": "Discrete", "n": int, "start": int}
    MultiDiscrete {"type": "MultiDiscrete", "nvec": array, "start": array}
    MultiBinary   {"type": "MultiBinary", "n": int or list}
    Dict          {"type": "Dict", "spaces": [[key, space], ...]}   (order kept)
    Tuple         {"type": "Tuple", "spaces": [space, ...]}
"""
from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces


def space_to_tree(space: spaces.Space) -> dict[str, Any]:
    """Describe `space` for the wire; TypeError for space types podium does not carry."""
    if isinstance(space, spaces.Box):
        return {"type": "Box", "low": space.low, "high": space.high, "dtype": space.dtype.str}
    if isinstance(space, spaces.Discrete):
        return {"type": "Discrete", "n": int(space.n), "start": int(space.start)}
    if isinstance(space, spaces.MultiDiscrete):
        return {"type": "MultiDiscrete", "nvec": space.nvec, "start": space.start}
    if isinstance(space, spaces.MultiBinary):
        n = space.n
        return {"type": "MultiBinary", "n": n if isinstance(n, int) else list(map(int, n))}
    if isinstance(space, spaces.Dict):
        return {"type": "Dict", "spaces": [[k, space_to_tree(s)] for k, s in space.spaces.items()]}
    if isinstance(space, spaces.Tuple):
        return {"type": "Tuple", "spaces": [space_to_tree(s) for s in space.spaces]}
    raise TypeError(f"podium cannot describe a {type(space).__name__} space on the wire "
                    "(supported: Box, Discrete, MultiDiscrete, MultiBinary, Dict, Tuple)")


def space_from_tree(tree: Any) -> spaces.Space:
    """Rebuild a space from its wire description; ValueError naming what is wrong."""
    if not isinstance(tree, dict) or "type" not in tree:
        raise ValueError(f"a space description must be a map with a 'type', got {tree!r}")
    kind = tree["type"]
    try:
        if kind == "Box":
            return spaces.Box(low=np.asarray(tree["low"]), high=np.asarray(tree["high"]),
                              dtype=np.dtype(tree["dtype"]))
        if kind == "Discrete":
            return spaces.Discrete(int(tree["n"]), start=int(tree.get("start", 0)))
        if kind == "MultiDiscrete":
            return spaces.MultiDiscrete(np.asarray(tree["nvec"]), start=np.asarray(tree["start"]))
        if kind == "MultiBinary":
            return spaces.MultiBinary(tree["n"])
        if kind == "Dict":
            return spaces.Dict({key: space_from_tree(sub) for key, sub in tree["spaces"]})
        if kind == "Tuple":
            return spaces.Tuple([space_from_tree(sub) for sub in tree["spaces"]])
    except KeyError as exc:
        raise ValueError(f"{kind} space description lacks {exc}") from exc
    raise ValueError(f"unknown space type {kind!r}")
