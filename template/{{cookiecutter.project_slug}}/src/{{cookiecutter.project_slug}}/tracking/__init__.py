"""Experiment tracking and the model registry behind one interface (see base.Tracker).

Only the adapter of the tracker chosen for this project is present.
"""

from __future__ import annotations

from ..config import TrackingSettings
from .base import CHAMPION, ModelVersion, Tracker
from .{{ 'mlflow import MlflowTracker as Adapter' if cookiecutter.tracker == 'mlflow' else 'local import LocalTracker as Adapter' }}


def get_tracker(settings: TrackingSettings) -> Tracker:
    return Adapter(settings)


__all__ = ["CHAMPION", "ModelVersion", "Tracker", "get_tracker"]
