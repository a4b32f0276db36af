"""Static verification of rendered projects: each validator runs once over many projects.

Start-up cost dominates these tools, so a check takes a whole shard of rendered projects
and every validator CLI is called once for all of their files. Each function returns a
list of human-readable problems (empty when all is well).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from collections.abc import Callable, Iterable
from pathlib import Path

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent  # the validators are installed beside the interpreter

# GitHub Actions' `${{ ... }}` is legitimate; anything else that looks like Jinja is a
# template that was not rendered. `${#var}` is shell, not a Jinja comment.
GITHUB_EXPRESSION = re.compile(r"\$\{\{.*?\}\}")
UNRENDERED = re.compile(r"\{\{|\}\}|\{%|%\}|(?<!\$)\{#|#\}")


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


def run(tool: str, *args: str | Path) -> list[str]:
    """Run a validator; its output is the problem report when it fails."""
    result = subprocess.run(
        [str(BIN / tool), *map(str, args)], capture_output=True, text=True, check=False
    )
    if result.returncode == 0:
        return []
    return [f"{tool} failed ({result.returncode}):\n{result.stdout}{result.stderr}".strip()]


def unrendered_jinja(projects: list[Path]) -> list[str]:
    problems = []
    for path in files(projects, lambda p: True):
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        for number, line in enumerate(text.splitlines(), 1):
            if UNRENDERED.search(GITHUB_EXPRESSION.sub("", line)):
                problems.append(f"{path}:{number}: unrendered template: {line.strip()}")
    return problems


def python_compiles(projects: list[Path]) -> list[str]:
    problems = []
    for path in files(projects, lambda p: p.suffix == ".py"):
        try:
            compile(path.read_text(encoding="utf-8"), str(path), "exec")
        except SyntaxError as error:
            problems.append(f"{path}: {error}")
    return problems


def ruff(projects: list[Path]) -> list[str]:
    # Each project's own pyproject.toml configures ruff for its files.
    return run("ruff", "check", "--no-cache", *projects) + run(
        "ruff", "format", "--check", "--no-cache", *projects
    )


def data_files_parse(projects: list[Path]) -> list[str]:
    problems = []
    for path in files(projects, lambda p: p.suffix in {".toml", ".json"}):
        try:
            text = path.read_text(encoding="utf-8")
            tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
        except (ValueError, tomllib.TOMLDecodeError) as error:
            problems.append(f"{path}: {error}")
    yaml_files = files(projects, is_yaml)
    if yaml_files:
        problems += run("yamllint", "--config-file", HERE / "yamllint.yml", *yaml_files)
    return problems


def pre_commit_configs(projects: list[Path]) -> list[str]:
    configs = files(projects, lambda p: p.name == ".pre-commit-config.yaml")
    return run("pre-commit", "validate-config", *configs) if configs else []


def ci_files(projects: list[Path]) -> list[str]:
    problems = []
    workflows = files(projects, is_workflow)
    if workflows:
        problems += run(
            "check-jsonschema", "--builtin-schema", "vendor.github-workflows", *workflows
        )
        problems += run("actionlint", "-no-color", *workflows)
    gitlab = files(projects, lambda p: p.name == ".gitlab-ci.yml")
    if gitlab:
        problems += run("check-jsonschema", "--builtin-schema", "vendor.gitlab-ci", *gitlab)
    return problems


# Configuration files with a schema vendored by check-jsonschema: (schema, file predicate).
SCHEMAS: tuple[tuple[str, Callable[[Path], bool]], ...] = (
    ("vendor.compose-spec", lambda p: p.name in {"docker-compose.yml", "compose.yaml"}),
    ("vendor.dependabot", lambda p: p.name == "dependabot.yml" and p.parent.name == ".github"),
    ("vendor.renovate", lambda p: p.name == "renovate.json"),
)


def config_schemas(projects: list[Path]) -> list[str]:
    problems = []
    for schema, predicate in SCHEMAS:
        found = files(projects, predicate)
        if found:
            problems += run("check-jsonschema", "--builtin-schema", schema, *found)
    return problems


def makefiles(projects: list[Path]) -> list[str]:
    """Each Makefile parses (e.g. no recipe indented with spaces): a dry run of its default
    goal, which prints the commands without running them."""
    problems = []
    for path in files(projects, lambda p: p.name == "Makefile"):
        result = subprocess.run(
            ["make", "--dry-run", "--file", path.name],
            cwd=path.parent,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            problems.append(f"make failed ({result.returncode}) on {path}:\n{result.stderr}")
    return problems


def shell_scripts(projects: list[Path]) -> list[str]:
    scripts = files(projects, lambda p: p.suffix == ".sh")
    return run("shellcheck", *scripts) if scripts else []


def dockerfiles(projects: list[Path]) -> list[str]:
    found = files(projects, is_dockerfile)
    return run("hadolint", *found) if found else []


ALL_CHECKS = (
    unrendered_jinja,
    python_compiles,
    ruff,
    data_files_parse,
    pre_commit_configs,
    ci_files,
    config_schemas,
    makefiles,
    shell_scripts,
    dockerfiles,
)
ALL_CHECKS += __import__("cloud_checks").ALL_CLOUD_CHECKS  # Terraform, Kubernetes, cloud CI


def check_all(projects: list[Path]) -> list[str]:
    return [problem for check in ALL_CHECKS for problem in check(projects)]
