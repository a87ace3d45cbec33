"""Policy-only snapshots, and loading a policy from a snapshot or from a full checkpoint.

A snapshot is one small safetensors file: the actor's weights (no critic, target, optimiser or
buffer) with, in the file's string metadata, what rebuilds it: the config, the env id, the obs
and action sizes, and where in the run it was taken (env steps, eval return). The trainer writes
`policy.safetensors` at every evaluation and `policy-best.safetensors` whenever an evaluation
beats the run's best. Nothing here unpickles: safetensors and JSON only.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from safetensors import safe_open
from safetensors.torch import save_file

from agents.runs import atomic_write
from agents.symphony.core import Policy, SymphonyConfig

if TYPE_CHECKING:
    from agents.symphony.core import Symphony

FORMAT = "symphony-policy/1"
LATEST_POLICY, BEST_POLICY = "policy.safetensors", "policy-best.safetensors"
ACTOR = "actor."  # the parameters' prefix in a snapshot; "agent.online.actor." in a checkpoint


def save_policy_snapshot(path: Path, agent: Symphony, env_id: str, extra: dict[str, Any]) -> Path:
    """The agent's online actor and what rebuilds it, atomically (a crash leaves the old file)."""
    tensors = {f"{ACTOR}{k}": v.detach().cpu().contiguous() for k, v in agent.online.actor.state_dict().items()}
    meta = {"format": FORMAT, "env_id": env_id, "obs_dim": agent.obs_dim, "act_dim": agent.act_dim,
            "config": agent.config.to_dict(), **extra}
    atomic_write(path, lambda p: save_file(tensors, str(p), metadata={"meta": json.dumps(meta)}))
    return path


def read_snapshot_meta(path: Path) -> dict[str, Any] | None:
    """A snapshot's metadata, or None when `path` is missing or not a policy snapshot."""
    if not path.is_file():
        return None
    with safe_open(str(path), framework="pt") as f:
        text = (f.metadata() or {}).get("meta")
    if text is None:
        return None
    meta = json.loads(text)
    return meta if meta.get("format") == FORMAT else None


def load_policy(path: Path, device: str = "cpu", best: bool = False) -> tuple[Policy, dict[str, Any]]:
    """The noiseless policy in `path` and its metadata (env_id, config, ...). `path` is a policy
    snapshot, a full checkpoint (its .safetensors or .json) or a run directory: its latest
    checkpoint, or with `best` its best snapshot. Only the actor's tensors are read."""
    path = Path(path)
    if path.is_dir():
        if best:
            path = path / BEST_POLICY
            if not path.exists():
                raise FileNotFoundError(f"{path.parent} has no best policy snapshot yet ({BEST_POLICY})")
        else:
            pointer = path / "latest.json"
            if not pointer.exists():
                raise FileNotFoundError(f"{path} has no checkpoint yet (latest.json)")
            path = path / f"{json.loads(pointer.read_text())['checkpoint']}.safetensors"
    elif path.suffix == ".json":
        path = path.with_suffix(".safetensors")
    if not path.is_file():
        raise FileNotFoundError(f"no policy snapshot or checkpoint at {path}")
    meta = read_snapshot_meta(path)
    if meta is not None:
        prefix = ACTOR
    else:
        sidecar = path.with_suffix(".json")
        if not sidecar.is_file():
            raise ValueError(f"{path} is neither a policy snapshot nor a checkpoint (no {sidecar.name})")
        meta = json.loads(sidecar.read_text())
        prefix = f"agent.online.{ACTOR}"
    with safe_open(str(path), framework="pt", device=str(device)) as f:
        state = {k[len(prefix):]: f.get_tensor(k) for k in f.keys() if k.startswith(prefix)}
    if not state:
        raise ValueError(f"{path} holds no actor weights")
    config = SymphonyConfig(**{**meta["config"], "capacity": None})
    obs_dim, act_dim = int(state["w1"].shape[1]), int(state["w3"].shape[2]) // 3
    policy = Policy(obs_dim, act_dim, config).to(device)
    policy.actor.load_state_dict(state)
    policy.requires_grad_(False)
    return policy, meta
