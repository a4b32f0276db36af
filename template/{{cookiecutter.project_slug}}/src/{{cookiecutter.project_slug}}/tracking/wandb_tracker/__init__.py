"""Weights & Biases: runs in a W&B project, versions as model artifacts (see README.md)."""

from .tracker import WandbTracker as Adapter

__all__ = ["Adapter"]
