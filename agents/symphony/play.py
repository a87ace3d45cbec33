"""Render a trained Symphony policy offscreen to a GIF (pillow) or an MP4 (imageio-ffmpeg)."""
from __future__ import annotations

import json
import os
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch
from safetensors.torch import load_file

from agents.symphony.core import Symphony, SymphonyConfig


def load_policy(run_dir: Path, device: str = "cpu") -> tuple[Symphony, str]:
    """The latest checkpoint's agent (weights only; no buffer) and its env id."""
    pointer = run_dir / "latest.json"
    if not pointer.exists():
        raise FileNotFoundError(f"{run_dir} has no checkpoint yet (latest.json)")
    name = json.loads(pointer.read_text())["checkpoint"]
    meta = json.loads((run_dir / f"{name}.json").read_text())
    config = SymphonyConfig(**{**meta["config"], "capacity": 1})
    env = gym.make(meta["env_id"])
    agent = Symphony(int(np.prod(env.observation_space.shape)), int(np.prod(env.action_space.shape)),
                     config, device)
    env.close()
    tensors = load_file(str(run_dir / f"{name}.safetensors"))
    agent.load_state_tensors({k[len("agent."):]: v for k, v in tensors.items() if k.startswith("agent.")})
    return agent, meta["env_id"]


def render_policy(run_dir: Path, out: Path, steps: int = 1_000, size: int = 240) -> Path:
    os.environ.setdefault("MUJOCO_GL", "egl")
    agent, env_id = load_policy(run_dir)
    kwargs = {"width": size, "height": size} if _is_mujoco(env_id) else {}
    env = gym.make(env_id, render_mode="rgb_array", **kwargs)
    obs, _ = env.reset(seed=0)
    frames = [env.render()]
    with torch.no_grad():
        for _ in range(steps):
            obs, _, terminated, truncated, _ = env.step(agent.act(obs, noise=0.0))
            frames.append(env.render())
            if terminated or truncated:
                break
    env.close()
    fps = env.metadata.get("render_fps", 30)
    if out.suffix == ".mp4":
        import imageio.v2 as imageio
        imageio.mimwrite(out, frames, fps=fps)
    else:
        from PIL import Image
        images = [Image.fromarray(f) for f in frames]
        images[0].save(out, save_all=True, append_images=images[1:], duration=int(1000 / fps), loop=0)
    return out


def _is_mujoco(env_id: str) -> bool:
    entry = str(gym.spec(env_id).entry_point)
    return "mujoco" in entry
