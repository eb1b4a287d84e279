"""Reward wrappers: one process signal per module, each a `gymnasium.Wrapper`."""
