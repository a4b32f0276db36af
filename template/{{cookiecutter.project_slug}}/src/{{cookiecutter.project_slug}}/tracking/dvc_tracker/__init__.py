"""DVC: runs as DVC experiments (DVCLive), versions in a GTO-tagged DVC registry (see README.md)."""

from .tracker import DvcTracker as Adapter

__all__ = ["Adapter"]
