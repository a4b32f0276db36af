"""The Ray engine (params.yaml `compute.engine: ray`): the steps' data-parallel parts on a
Ray cluster, local or remote (README.md beside this file)."""

from __future__ import annotations

import os

# A local Ray's workers run on this machine, with the driver's interpreter. Ray's uv
# integration (on by default) would start each with the `uv run` that launched the driver,
# in a copy of the project without its environment: a fresh install per worker, or no Ray
# at all under `uv run --no-sync`. On a cluster (RAY_ADDRESS), the job's environment decides.
if not os.environ.get("RAY_ADDRESS"):
    os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")

from .engine import RayEngine, start  # after the switch: Ray reads it on import

__all__ = ["RayEngine", "start"]
