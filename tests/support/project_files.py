"""Which files of rendered projects a validator is shown, and where the validators live.

Shared by the static checks and the cloud checks (static_checks.py, cloud_checks.py), which
otherwise know nothing of each other.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from pathlib import Path

BIN = Path(sys.executable).parent  # the validators are installed beside the interpreter


def files(projects: Iterable[Path], predicate: Callable[[Path], bool]) -> list[Path]:
    return [
        path
        for project in projects
        for path in sorted(project.rglob("*"))
        if path.is_file() and predicate(path)
    ]


def is_yaml(path: Path) -> bool:
    return path.suffix in {".yml", ".yaml"}


def is_workflow(path: Path) -> bool:
    return is_yaml(path) and path.parent.match(".github/workflows")


def is_dockerfile(path: Path) -> bool:
    return path.name.startswith("Dockerfile") or path.suffix == ".dockerfile"
