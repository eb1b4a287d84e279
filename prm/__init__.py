"""prm-gym: Gymnasium environments for LLM agents with step-level (process) rewards.

>>> import gymnasium as gym, prm
>>> sorted(env_id for env_id in gym.registry if env_id.startswith("prm/"))  # doctest: +SKIP
['prm/search-qa-v0', 'prm/swe-v0']
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from prm.registration import register_envs
from prm.trajectory import TrajectoryWriter, load_trajectory, write_trajectory

try:
    __version__ = version("prm-gym")
except PackageNotFoundError:  # running from a checkout that was not installed
    __version__ = "0.0.0+local"

register_envs()

__all__ = ["TrajectoryWriter", "__version__", "load_trajectory", "write_trajectory"]
