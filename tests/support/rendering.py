"""What the template's tests share: the questions, the combinations, the two engines and
an offline environment for rendered projects. Fixtures and reporting live in conftest.py;
options.yml and layout.yml are read by scripts/template_spec.py, as the generator reads them."""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from functools import cache, partial
from pathlib import Path
from typing import Any
from unittest import mock

import copier
from copier._main import Worker

import template_spec
from template_spec import Question

ROOT = template_spec.ROOT
TEMPLATE = ROOT / "template"

# Choice questions that only change file *contents* (a version string, a licence text).
# They are covered pairwise; every other choice question is structural and enumerated in
# full, so a question added to options.yml is in the matrix without touching the tests.
COSMETIC = ("python_version", "license")
# Structural questions whose files depend on at most one other answer at a time (compute:
# its engine package, params.yaml's compute block, the compute dependency group, one README
# line; with a cloud, that cloud's KubeRay overlay, targets and identity): the matrix renders
# every pair of their values with any other value, as for the cosmetic ones, instead of
# multiplying the product by their size. Pairs are all such files need.
ORTHOGONAL = ("compute",)

# The tools' own telemetry switches. The rendered Makefile sets them for its targets; the
# orchestrator tier runs `make flow` without them to prove it.
TELEMETRY_OFF = {
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "true",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "DAGSTER_DISABLE_TELEMETRY": "true",
}
# Tools and services used by rendered projects must never phone home from the tests.
OFFLINE_ENV = {
    **TELEMETRY_OFF,
    "WANDB_MODE": "offline",
    "WANDB_SILENT": "true",
    "METAFLOW_USER": "ci",
    "GIT_AUTHOR_NAME": "Template CI",
    "GIT_AUTHOR_EMAIL": "ci@example.com",
    "GIT_COMMITTER_NAME": "Template CI",
    "GIT_COMMITTER_EMAIL": "ci@example.com",
}
os.environ.update(OFFLINE_ENV)

Answers = dict[str, str]


# The longest names options.yml allows: 32 characters of package name, 60 of project name.
LONGEST_SLUG = "a_very_long_package_name_for_ml_"
LONGEST_NAME = "Credit Risk Scoring For The Retail Lending Department Of Banks"[:60]


@cache
def questions() -> dict[str, Question]:
    """options.yml, the single source of the questions."""
    return template_spec.load_questions()


@cache
def layout() -> dict[str, Any]:
    """layout.yml: what each answer owns and means (checked against the questions)."""
    return template_spec.load_layout(questions())


matches = template_spec.matches


def choices(name: str) -> list[str]:
    values = template_spec.choice_values(questions()[name])
    assert values is not None, f"{name} is not a choice question"
    return values


def choice_questions() -> list[str]:
    return [name for name, spec in questions().items() if "choices" in spec]


def structural_questions() -> list[str]:
    """The questions whose full product the matrix renders."""
    return [name for name in choice_questions() if name not in (*COSMETIC, *ORTHOGONAL)]


def tool_questions() -> list[str]:
    """Every question that chooses tools or files (the structural and orthogonal ones)."""
    return [name for name in choice_questions() if name not in COSMETIC]


def defaults() -> Answers:
    """The answer to every choice question when the user accepts the defaults."""
    return {name: str(questions()[name]["default"]) for name in choice_questions()}


@cache
def structural_combinations() -> tuple[tuple[tuple[str, str], ...], ...]:
    names = structural_questions()
    return tuple(
        tuple(zip(names, values, strict=True))
        for values in itertools.product(*(choices(n) for n in names))
    )


@cache
def matrix() -> tuple[tuple[tuple[str, str], ...], ...]:
    """Every structural combination, each with cosmetic answers chosen greedily so that
    every pair of values of any two questions (cosmetic included) is rendered."""
    cosmetic = [n for n in (*ORTHOGONAL, *COSMETIC) if n in questions()]
    options = [
        tuple(zip(cosmetic, values, strict=True))
        for values in itertools.product(*(choices(n) for n in cosmetic))
    ]
    covered: set[frozenset[tuple[str, str]]] = set()
    result = []
    for i, structural in enumerate(structural_combinations()):
        # The cosmetic answers that add the most unseen pairs; ties go round-robin so the
        # cosmetic values stay evenly spread.
        candidates = [options[(i + k) % len(options)] for k in range(len(options))]
        gains = [len(set(pairs(structural + extra)) - covered) for extra in candidates]
        best = candidates[gains.index(max(gains))]
        combination = structural + best
        covered.update(pairs(combination))
        result.append(combination)
    return tuple(result)


def pairs(combination: tuple[tuple[str, str], ...]) -> Iterator[frozenset[tuple[str, str]]]:
    return (frozenset(p) for p in itertools.combinations(combination, 2))


def combination_id(combination: tuple[tuple[str, str], ...] | Mapping[str, str]) -> str:
    items = combination.items() if isinstance(combination, Mapping) else combination
    return "-".join(value for _, value in items)


def shards(items: tuple[Any, ...], count: int) -> list[tuple[Any, ...]]:
    """Split items into `count` interleaved shards (each sees every kind of combination)."""
    return [items[i::count] for i in range(count)]


@cache
def git_ignores_file_modes() -> bool:
    """Whether git is configured (globally) to ignore file modes: core.fileMode=false."""
    result = subprocess.run(
        ["git", "config", "--global", "--type=bool", "--get", "core.fileMode"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    return result.stdout.strip() == "false"


def render_copier(source: Path, answers: Mapping[str, str], destination: Path) -> Path:
    """Render with Copier, in-process, as `copier copy --defaults --data k=v ...` does
    (no --trust: the template must not need it)."""
    render = partial(
        copier.run_copy,
        str(source), destination, data=dict(answers), defaults=True, quiet=True, unsafe=False,
    )  # fmt: skip
    if git_ignores_file_modes():
        render()
        return destination
    # For each file it writes, Copier runs `git config core.fileMode` in the destination, to
    # copy the executable bit into the index where git ignores file modes; here git does not
    # (no test sets it), so each call is a git process that changes nothing: a quarter of a
    # matrix shard's time (33 s against 25 s for 28 combinations).
    with mock.patch.object(Worker, "_sync_git_index_executable_bit"):
        render()
    return destination


def rendered_files(project: Path) -> list[Path]:
    return sorted(p for p in project.rglob("*") if p.is_file())


def empty_directories(project: Path) -> list[str]:
    """Directories of a render that hold nothing (git would not even keep them)."""
    return sorted(
        p.relative_to(project).as_posix()
        for p in project.rglob("*")
        if p.is_dir() and not any(p.iterdir())
    )


def tree_bytes(project: Path, ignore: tuple[str, ...] = ()) -> dict[str, bytes]:
    return {
        p.relative_to(project).as_posix(): p.read_bytes()
        for p in rendered_files(project)
        if p.relative_to(project).as_posix() not in ignore
    }


def python_env() -> dict[str, str]:
    """Environment in which uv finds every installed interpreter the template supports.

    Under pyenv only the global version's shims work, so expose 3.11+ explicitly; where
    uv can download interpreters (a user's machine) nothing needs to change.
    """
    env = dict(os.environ)
    pyenv = shutil.which("pyenv")
    if pyenv:
        versions = subprocess.run(
            [pyenv, "versions", "--bare"], capture_output=True, text=True, check=False
        ).stdout.split()
        # A pyenv shim sets PYENV_VERSION to its own version: keep it, add the others.
        current = [v for v in env.get("PYENV_VERSION", "").split(":") if v]
        supported = tuple(choices("python_version"))
        wanted = [v for v in versions if v.startswith(supported) and v not in current]
        if wanted:
            env["PYENV_VERSION"] = ":".join(current + wanted)
    return env
