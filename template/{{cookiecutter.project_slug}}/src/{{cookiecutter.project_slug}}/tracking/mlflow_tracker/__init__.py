"""MLflow: runs in an experiment, versions in the Model Registry (see README.md)."""

from .tracker import MlflowTracker as Adapter

__all__ = ["Adapter"]
