"""MuJoCo (and any gymnasium) envs served as device daemons: `podium sim`, kind `mujoco`."""
