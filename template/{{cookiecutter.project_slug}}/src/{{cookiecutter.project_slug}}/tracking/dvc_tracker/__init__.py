"""DVC."""

from .tracker import DvcTracker as Adapter

__all__ = ["Adapter"]
