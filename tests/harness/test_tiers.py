"""The harness's own shape: every test runs in a job of the template's CI, and test modules
share code only through tests/support.

The CI workflow (.github/workflows/template-ci.yml) names tier folders in its job matrix,
some split with `-k`. Each job's arguments are collected with pytest as the job passes
them; a test that no job collects would run nowhere but `.ci/run`, so the test fails.
"""

from __future__ import annotations

import ast
import shlex
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import yaml

from support.rendering import ROOT

WORKFLOW = ROOT / ".github" / "workflows" / "template-ci.yml"
TESTS = ROOT / "tests"


def collected(*arguments: str) -> set[str]:
    """The node ids pytest collects for these arguments, from the repository's root."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--collect-only",
            "-q",
            "-p",
            "no:cacheprovider",
            *arguments,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, f"pytest {shlex.join(arguments)}:\n{result.stdout}"
    return {line for line in result.stdout.splitlines() if "::" in line}


def job_arguments() -> list[list[str]]:
    """The pytest arguments of each entry of the test job's matrix, as its shell splits them."""
    workflow: dict[str, Any] = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    entries = workflow["jobs"]["test"]["strategy"]["matrix"]["include"]
    return [shlex.split(entry["tests"]) for entry in entries]


def test_every_test_is_collected_by_a_job_of_the_template_ci() -> None:
    jobs = job_arguments()
    with ThreadPoolExecutor(max_workers=4) as pool:
        reached = set().union(*pool.map(lambda arguments: collected(*arguments), jobs))
    everything = collected()
    assert everything, "pytest collected nothing"
    missing = sorted(everything - reached)
    assert not missing, f"run by no job of {WORKFLOW.relative_to(ROOT)}:\n" + "\n".join(missing)
    modules = {p.relative_to(ROOT).as_posix() for p in TESTS.rglob("test_*.py")}
    assert {node.split("::")[0] for node in everything} == modules


def imported_modules(path: Path) -> set[str]:
    """The top-level names of the modules a file imports."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_no_module_of_the_harness_imports_a_test_module() -> None:
    """Helpers live in tests/support: a test module imported by another ties two tiers
    together (one cannot be moved, run or read without the other)."""
    test_modules = {p.stem for p in TESTS.rglob("test_*.py")} | {"conftest"}
    offenders = {
        f"{path.relative_to(ROOT)} imports {sorted(imported_modules(path) & test_modules)}"
        for path in sorted(TESTS.rglob("*.py"))
        if imported_modules(path) & test_modules
    }
    assert not offenders, "\n".join(sorted(offenders))
