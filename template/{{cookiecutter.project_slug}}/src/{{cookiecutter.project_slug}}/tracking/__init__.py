"""Experiment tracking and the model registry behind one interface (see base.Tracker).

Only the adapter of the tracker chosen for this project is present, in a package named
after it that holds its code and README.
"""

from __future__ import annotations

from pathlib import Path

from ..config import TrackingSettings
from .base import CHALLENGER, CHAMPION, ModelVersion, Tracker
from .{{ cookiecutter.__tracker_module }} import Adapter


def get_tracker(settings: TrackingSettings) -> Tracker:
    return Adapter(settings)


def local_store_uri(root: Path) -> str:
    """Where the tracker keeps a store under `root` (the tests use a temporary one)."""
    return Adapter.local_uri(root)


__all__ = ["CHALLENGER", "CHAMPION", "ModelVersion", "Tracker", "get_tracker", "local_store_uri"]
