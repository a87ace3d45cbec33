"""Symphony: the actor-critic with a fading replay buffer (core.py is the algorithm in one file)."""
