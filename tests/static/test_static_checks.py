"""The static checks catch what they claim to: each is shown a planted defect.

Without this, a validator that silently checks nothing (a wrong glob, a tool that is
not installed) would leave the matrix green.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from support import static_checks
from support.rendering import ROOT

GOOD_PYPROJECT = '[project]\nname = "demo"\n\n[tool.ruff]\nline-length = 100\n'

DEFECTS: list[tuple[str, str, str, Callable[[list[Path]], list[str]]]] = [
    (
        "README.md",
        "Hello {{ cookiecutter.project_name }}\n",
        "unrendered",
        static_checks.unrendered_jinja,
    ),
    ("ci.sh", "{% if x %}\n", "unrendered", static_checks.unrendered_jinja),
    ("src/demo/broken.py", "def f(:\n", "broken.py", static_checks.python_compiles),
    ("src/demo/unused.py", "import os\n", "F401", static_checks.ruff),
    ("src/demo/ugly.py", "x = {  'a':1 }\n", "ugly.py", static_checks.ruff),
    ("params.yaml", "a: [1, 2\n", "params.yaml", static_checks.data_files_parse),
    ("config.toml", "a = = 1\n", "config.toml", static_checks.data_files_parse),
    ("data.json", "{'a': 1}\n", "data.json", static_checks.data_files_parse),
    (
        ".pre-commit-config.yaml",
        "repos:\n  - hooks: []\n",
        "pre-commit",
        static_checks.pre_commit_configs,
    ),
    (
        ".github/workflows/ci.yml",
        "on: push\njobs:\n  a:\n    steps: []\n",
        "workflows",
        static_checks.ci_files,
    ),
    (
        ".github/workflows/bad-expr.yml",
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    steps:\n"
        "      - run: echo ${{ github.nope }}\n",
        "actionlint",
        static_checks.ci_files,
    ),
    (".gitlab-ci.yml", "test:\n  script: 42\n  stage: [1]\n", "gitlab", static_checks.ci_files),
    (
        "scripts/run.sh",
        "#!/usr/bin/env bash\necho $1\nrm -rf $DIR/\n",
        "SC2086",
        static_checks.shell_scripts,
    ),
    ("Dockerfile", "FROM python\nRUN cd /app\n", "DL", static_checks.dockerfiles),
    (
        "docker-compose.yml",
        "services:\n  api:\n    ports: 8000\n",
        "docker-compose.yml",
        static_checks.config_schemas,
    ),
    (
        ".github/dependabot.yml",
        "version: 2\nupdates:\n  - package-ecosystem: cargo-cult\n",
        "dependabot.yml",
        static_checks.config_schemas,
    ),
    (
        "renovate.json",
        '{"enabled": "yes"}\n',
        "renovate",
        static_checks.config_schemas,
    ),
    ("Makefile", "help:\n    echo spaces, not a tab\n", "separator", static_checks.makefiles),
]


def test_github_expressions_are_not_mistaken_for_templates(tmp_path: Path) -> None:
    workflow = tmp_path / ".github" / "workflows" / "ok.yml"
    workflow.parent.mkdir(parents=True)
    workflow.write_text("run: echo ${{ github.sha }} ${#ARR}\n", encoding="utf-8")
    assert static_checks.unrendered_jinja([tmp_path]) == []


@pytest.mark.parametrize(
    ("path", "content", "expected", "check"), DEFECTS, ids=[d[0] + "-" + d[2] for d in DEFECTS]
)
def test_check_reports_a_planted_defect(
    path: str,
    content: str,
    expected: str,
    check: Callable[[list[Path]], list[str]],
    tmp_path: Path,
) -> None:
    (tmp_path / "pyproject.toml").write_text(GOOD_PYPROJECT, encoding="utf-8")
    target = tmp_path / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(content, encoding="utf-8")
    problems = check([tmp_path])
    assert problems, f"{check.__name__} missed a defect in {path}"
    assert expected in "\n".join(problems)


def test_template_repository_ci_and_hooks_are_valid() -> None:
    assert static_checks.ci_files([ROOT / ".github"]) == []
    hooks = ROOT / ".pre-commit-config.yaml"
    assert static_checks.run("pre-commit", "validate-config", hooks) == []
    assert static_checks.shell_scripts([ROOT / ".ci"]) == []


def test_the_memo_revalidates_a_file_whose_content_or_configuration_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What passed is remembered by name, content and the configuration it was checked
    under: the same name with other content, or the same content under a stricter ruff
    configuration, is validated again (and fails), while an identical file is not rerun."""
    monkeypatch.setattr(static_checks, "MEMO", tmp_path / "memo")
    clean, other_content, stricter = (tmp_path / name for name in ("a", "b", "c"))
    for project, pyproject, code in (
        (clean, GOOD_PYPROJECT, "x = 1\n"),
        (other_content, GOOD_PYPROJECT, "import os\n"),
        (
            stricter,
            GOOD_PYPROJECT.replace("100", "3") + '[tool.ruff.lint]\nselect = ["E501"]\n',
            "x = 1\n",
        ),
    ):
        (project / "src").mkdir(parents=True)
        (project / "pyproject.toml").write_text(pyproject, encoding="utf-8")
        (project / "src" / "m.py").write_text(code, encoding="utf-8")
    assert static_checks.ruff([clean]) == []
    with monkeypatch.context() as patched:  # remembered: no validator runs again
        patched.setattr(static_checks, "run", lambda *args: pytest.fail(f"reran {args}"))
        assert static_checks.ruff([clean]) == []
    assert "F401" in "\n".join(static_checks.ruff([other_content]))
    assert "E501" in "\n".join(static_checks.ruff([stricter]))
