"""The environment is reproducible only if every runner uses the same uv: the Dockerfile,
the GitHub Actions setup (.github/actions/uv) and the GitLab CI images pin one version.
Update bots bump each file on its own; this test fails until they agree again."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.infrastructure

ROOT = Path(__file__).resolve().parents[2]
PINS = {
    "Dockerfile": r"^FROM ghcr\.io/astral-sh/uv:(\S+) AS uv$",
    ".github/actions/uv/action.yml": r'^\s+version: "(\S+)"$',
    ".gitlab-ci.yml": r'^\s+UV_VERSION: "(\S+)"',
}


def test_every_runner_pins_the_same_uv() -> None:
    pins = {}
    for name, pattern in PINS.items():
        path = ROOT / name
        if path.exists():
            found = re.findall(pattern, path.read_text(encoding="utf-8"), flags=re.MULTILINE)
            assert len(found) == 1, f"{name}: expected one uv pin, found {found}"
            pins[name] = found[0]
    assert "Dockerfile" in pins
    assert len(set(pins.values())) == 1, f"uv versions differ: {pins}"
