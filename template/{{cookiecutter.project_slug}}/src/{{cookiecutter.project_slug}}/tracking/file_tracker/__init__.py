"""Plain files: runs and versions in a directory, no server (see README.md)."""

from .tracker import FileTracker as Adapter

__all__ = ["Adapter"]
