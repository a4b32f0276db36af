"""Every validator of rendered projects, in the order the matrix and the update tier run
them: the static checks, then the cloud checks (Terraform, Kubernetes, cloud CI)."""

from __future__ import annotations

from pathlib import Path

from support.cloud_checks import ALL_CLOUD_CHECKS
from support.static_checks import STATIC_CHECKS

ALL_CHECKS = STATIC_CHECKS + ALL_CLOUD_CHECKS


def check_all(projects: list[Path]) -> list[str]:
    return [problem for check in ALL_CHECKS for problem in check(projects)]
