"""Static verification of rendered projects: each validator runs once over many projects.

Start-up cost dominates these tools, so a check takes a whole shard of rendered projects
and every validator CLI is called once for all of their files. Most combinations share
most files, so each check validates one representative of every distinct file (content,
name and the configuration it is checked under), and, when a memo directory is set (the
matrix sets one for the whole run, shared by the xdist workers), remembers what passed:
validator time grows with distinct content, not with combinations. Each function returns
a list of human-readable problems (empty when all is well).
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import tomllib
from collections.abc import Callable, Iterable
from functools import cache
from pathlib import Path

from support.project_files import BIN, files, is_dockerfile, is_workflow, is_yaml

HERE = Path(__file__).resolve().parent

# Other tools' templates are legitimate: GitHub Actions' `${{ ... }}`, Prefect's environment
# variables in prefect.yaml (`{{ $NAME }}`), Go templates given to `docker ... --format`,
# Flyte's cluster resource templates (`'{{ namespace }}'`, and the per-domain data the
# Flyte values give them, `'{{ tasksClientId }}'`). Anything else that looks like Jinja is
# a template that was not rendered. `${#var}` is shell, not a Jinja comment.
OTHER_TOOLS_TEMPLATES = re.compile(
    r"\$\{\{.*?\}\}|\{\{ \$[A-Z_]+ \}\}|--format '\{\{[^']*\}\}'"
    r"|'\{\{ (?:namespace|project|domain|tasksClientId) \}\}'"
)
UNRENDERED = re.compile(r"\{\{|\}\}|\{%|%\}|(?<!\$)\{#|#\}")


# Where passed validations are remembered across shards (None: validate every distinct file
# of each call afresh, as the planted-defect tests need).
MEMO: Path | None = None


def fingerprint(check: str, path: Path, context: bytes) -> str:
    digest = hashlib.sha256(f"{check}\0{path.name}\0".encode())
    digest.update(path.read_bytes())
    digest.update(b"\0" + context)
    return digest.hexdigest()


def once(
    check: str,
    paths: Iterable[Path],
    validate: Callable[[list[Path]], list[str]],
    context: Callable[[Path], bytes] = lambda path: b"",
) -> list[str]:
    """Run `validate` on one representative of each distinct file not yet validated, and
    remember them all when it passes."""
    fresh: dict[str, Path] = {}
    for path in paths:
        key = fingerprint(check, path, context(path))
        if key not in fresh and not (MEMO is not None and (MEMO / key).exists()):
            fresh[key] = path
    if not fresh:
        return []
    problems = validate(list(fresh.values()))
    if not problems and MEMO is not None:
        MEMO.mkdir(parents=True, exist_ok=True)
        for key in fresh:
            (MEMO / key).touch()
    return problems


def nearest(path: Path, name: str) -> Path | None:
    """The closest file called `name` in `path`'s directory or above (its project's)."""
    for directory in path.parents:
        if (directory / name).is_file():
            return directory / name
    return None


def ruff_config(path: Path) -> bytes:
    """The ruff settings a file is checked under (its project's `[tool.ruff]`)."""
    config = nearest(path, "pyproject.toml")
    return ruff_settings(config.read_text(encoding="utf-8")) if config else b""


@cache
def ruff_settings(pyproject: str) -> bytes:
    """`[tool.ruff]` of a pyproject.toml's text, canonical (a project's files share one)."""
    settings = tomllib.loads(pyproject).get("tool", {}).get("ruff", {})
    return json.dumps(settings, sort_keys=True).encode()


def run(tool: str, *args: str | Path) -> list[str]:
    """Run a validator; its output is the problem report when it fails."""
    result = subprocess.run(
        [str(BIN / tool), *map(str, args)], capture_output=True, text=True, check=False
    )
    if result.returncode == 0:
        return []
    return [f"{tool} failed ({result.returncode}):\n{result.stdout}{result.stderr}".strip()]


def cli(tool: str, *args: str | Path) -> Callable[[list[Path]], list[str]]:
    """A validator that runs `tool *args <files>`."""
    return lambda paths: run(tool, *args, *paths)


def unrendered_jinja(projects: list[Path]) -> list[str]:
    def scan(paths: list[Path]) -> list[str]:
        problems = []
        for path in paths:
            try:
                text = path.read_text(encoding="utf-8")
            except UnicodeDecodeError:
                continue
            for number, line in enumerate(text.splitlines(), 1):
                if UNRENDERED.search(OTHER_TOOLS_TEMPLATES.sub("", line)):
                    problems.append(f"{path}:{number}: unrendered template: {line.strip()}")
        return problems

    return once("jinja", files(projects, lambda p: True), scan)


def python_compiles(projects: list[Path]) -> list[str]:
    def compiles(paths: list[Path]) -> list[str]:
        problems = []
        for path in paths:
            try:
                compile(path.read_text(encoding="utf-8"), str(path), "exec")
            except SyntaxError as error:
                problems.append(f"{path}: {error}")
        return problems

    return once("compile", files(projects, lambda p: p.suffix == ".py"), compiles)


def ruff(projects: list[Path]) -> list[str]:
    # Each file is checked under its own project's pyproject.toml, part of its fingerprint.
    return once(
        "ruff",
        files(projects, lambda p: p.suffix in {".py", ".pyi", ".ipynb"}),
        lambda paths: (
            run("ruff", "check", "--no-cache", *paths)
            + run("ruff", "format", "--check", "--no-cache", *paths)
        ),
        context=ruff_config,
    )


def data_files_parse(projects: list[Path]) -> list[str]:
    def parse(paths: list[Path]) -> list[str]:
        problems = []
        for path in paths:
            try:
                text = path.read_text(encoding="utf-8")
                tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
            except (ValueError, tomllib.TOMLDecodeError) as error:
                problems.append(f"{path}: {error}")
        return problems

    problems = once("parse", files(projects, lambda p: p.suffix in {".toml", ".json"}), parse)
    return problems + once(
        "yamllint",
        files(projects, is_yaml),
        cli("yamllint", "--config-file", HERE / "yamllint.yml"),
    )


def pre_commit_configs(projects: list[Path]) -> list[str]:
    return once(
        "pre-commit",
        files(projects, lambda p: p.name == ".pre-commit-config.yaml"),
        cli("pre-commit", "validate-config"),
    )


def is_gitlab_ci(path: Path) -> bool:
    return path.name == ".gitlab-ci.yml" or (is_yaml(path) and path.parent.name == ".gitlab")


def ci_files(projects: list[Path]) -> list[str]:
    workflows = files(projects, is_workflow)
    return (
        once(
            "github-workflows",
            workflows,
            cli("check-jsonschema", "--builtin-schema", "vendor.github-workflows"),
        )
        + once("actionlint", workflows, cli("actionlint", "-no-color"))
        + once(
            "gitlab-ci",
            files(projects, is_gitlab_ci),
            cli(
                "check-jsonschema",
                *("--builtin-schema", "vendor.gitlab-ci", "--data-transform", "gitlab-ci"),
            ),
        )
    )


# Configuration files with a schema vendored by check-jsonschema: (schema, file predicate).
SCHEMAS: tuple[tuple[str, Callable[[Path], bool]], ...] = (
    ("vendor.compose-spec", lambda p: p.name in {"docker-compose.yml", "compose.yaml"}),
    ("vendor.dependabot", lambda p: p.name == "dependabot.yml" and p.parent.name == ".github"),
    ("vendor.renovate", lambda p: p.name == "renovate.json"),
)


def config_schemas(projects: list[Path]) -> list[str]:
    problems = []
    for schema, predicate in SCHEMAS:
        problems += once(
            schema,
            files(projects, predicate),
            cli("check-jsonschema", "--builtin-schema", schema),
        )
    return problems


def included_makefiles(path: Path) -> bytes:
    """The fragments a Makefile includes (tools keep their targets in *.mk files)."""
    return b"".join(p.read_bytes() for p in sorted(path.parent.rglob("*.mk")))


def makefiles(projects: list[Path]) -> list[str]:
    """Each Makefile parses (e.g. no recipe indented with spaces): a dry run of its default
    goal, which prints the commands without running them."""

    def dry_run(paths: list[Path]) -> list[str]:
        problems = []
        for path in paths:
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

    return once(
        "make",
        files(projects, lambda p: p.name == "Makefile"),
        dry_run,
        context=included_makefiles,
    )


def shell_scripts(projects: list[Path]) -> list[str]:
    return once(
        "shellcheck",
        files(projects, lambda p: p.suffix == ".sh"),
        cli("shellcheck"),
    )


def dockerfiles(projects: list[Path]) -> list[str]:
    return once("hadolint", files(projects, is_dockerfile), cli("hadolint"))


STATIC_CHECKS = (
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
