"""Render a trained Symphony policy offscreen to a GIF (pillow) or an MP4 (imageio-ffmpeg).

The policy comes from a run directory (its latest checkpoint, or `best=True`: its best policy
snapshot), a full checkpoint file or a policy snapshot (policy.py reads only the actor)."""
from __future__ import annotations

import os
from pathlib import Path

import gymnasium as gym
import torch

from agents.symphony.policy import load_policy


def render_policy(source: Path, out: Path, steps: int = 1_000, size: int = 240, best: bool = False) -> Path:
    os.environ.setdefault("MUJOCO_GL", "egl")
    policy, meta = load_policy(source, best=best)
    env_id = meta["env_id"]
    kwargs = {"width": size, "height": size} if _is_mujoco(env_id) else {}
    env = gym.make(env_id, render_mode="rgb_array", **kwargs)
    obs, _ = env.reset(seed=0)
    frames = [env.render()]
    with torch.no_grad():
        for _ in range(steps):
            obs, _, terminated, truncated, _ = env.step(policy.act_batch(obs)[0])
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
