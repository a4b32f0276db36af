"""The layout a reader follows: the README's project layout names every module of the
package, each where it lives, and nothing that is not there; no module outgrows 400 lines;
the stages import one way (import-linter's contract in pyproject.toml, run by `make lint`)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from ..conftest import PROJECT_ROOT

PACKAGE = PROJECT_ROOT / "src" / "{{ cookiecutter.project_slug }}"
MAX_LINES = 400
ENTRY = re.compile(r"^(?P<indent> *)(?P<name>[\w.]+/?)(?P<description>.*)$")


def listed_modules(readme: str) -> set[str]:
    """The modules the README's layout block lists under the package, as paths relative to
    it: an entry's indentation (two spaces a level) places it in the directory above it,
    and the *.py files a directory's description names are its own."""
    block = readme.split("## Project layout", 1)[1].split("```")[1]
    lines = iter(block.splitlines())
    for line in lines:
        if line.startswith(f"src/{PACKAGE.name}/"):
            break
    listed: set[str] = set()
    parents: list[str] = []
    for line in lines:
        match = ENTRY.match(line)
        if not line.startswith("  ") or match is None:
            break
        depth = len(match["indent"]) // 2 - 1
        if not match["name"].replace("/", "").replace(".", "").replace("_", "").isalnum():
            continue  # a description's continuation line
        parents = parents[:depth]
        name = match["name"]
        if name.endswith("/"):
            parents.append(name.rstrip("/"))
            for child in re.findall(r"\b(\w+\.py)\b", match["description"]):
                listed.add("/".join([*parents, child]))
        else:
            listed.add("/".join([*parents, name]))
    return listed


def test_the_readme_lists_every_module_where_it_lives() -> None:
    """A newcomer finds each module in the README's layout, under its stage."""
    modules = {
        path.relative_to(PACKAGE).as_posix()
        for path in PACKAGE.rglob("*.py")
        if path.name != "__init__.py"
    }
    listed = listed_modules((PROJECT_ROOT / "README.md").read_text(encoding="utf-8"))
    assert sorted(modules - listed) == [], "modules the README's layout does not list"
    assert sorted(listed - modules) == [], "modules the README lists that do not exist"


def test_no_module_outgrows_four_hundred_lines() -> None:
    """A module a reader can hold in mind: split one that grows past the limit."""
    sizes = {
        path.relative_to(PACKAGE).as_posix(): len(path.read_text(encoding="utf-8").splitlines())
        for path in PACKAGE.rglob("*.py")
    }
    assert {name: size for name, size in sizes.items() if size > MAX_LINES} == {}


def lint_imports(source: Path) -> subprocess.CompletedProcess[str]:
    """import-linter, with the project's contract, on the package found under `source`."""
    return subprocess.run(  # noqa: S603 (the environment's own tool)
        [str(Path(sys.executable).parent / "lint-imports"), "--no-logo", "--no-cache"],
        cwd=PROJECT_ROOT,
        env={**os.environ, "PYTHONPATH": str(source)},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_an_upward_import_breaks_the_stage_layering(tmp_path: Path) -> None:
    """Serving never imports training (the serving image runs without its dependencies):
    an import planted in a copy of the package breaks the contract, naming both ends."""
    assert lint_imports(PACKAGE.parent).returncode == 0
    copy = tmp_path / "src"
    shutil.copytree(PACKAGE.parent, copy, ignore=shutil.ignore_patterns("__pycache__"))
    app = copy / PACKAGE.name / "serving" / "app.py"
    app.write_text(app.read_text(encoding="utf-8") + "\nfrom ..training import train\n")
    result = lint_imports(copy)
    assert result.returncode == 1, result.stdout
    assert f"{PACKAGE.name}.serving.app -> {PACKAGE.name}.training.train" in result.stdout
