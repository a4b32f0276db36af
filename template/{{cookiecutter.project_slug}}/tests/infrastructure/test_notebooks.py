"""The notebooks run against the current code (notebooks rot silently otherwise)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ..conftest import PROJECT_ROOT

pytestmark = pytest.mark.infrastructure

NOTEBOOKS = sorted((PROJECT_ROOT / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda path: path.name)
def test_notebook_code_runs(notebook: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Infrastructure 5: the exploration notebooks, kept output-free in git, still run
    top to bottom with the project's code (Jupyter's `display` is replaced by a no-op)."""
    monkeypatch.chdir(PROJECT_ROOT)
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    namespace: dict[str, Any] = {"display": lambda *_: None}
    for number, cell in enumerate(cells):
        if cell["cell_type"] == "code":
            assert not cell.get("outputs"), f"cell {number} has outputs: strip them (nbstripout)"
            exec(compile("".join(cell["source"]), f"{notebook.name}[{number}]", "exec"), namespace)  # noqa: S102
