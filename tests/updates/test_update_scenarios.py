"""Template updates never lose a user's work: releases, conflicts, answer switches, cruft.

A scratch git repository holds the template as it is in this working tree, tagged v1.0.0,
then a scripted release v1.1.0 that modifies a file (Makefile), adds one, removes two,
bumps a dependency in pyproject.toml and changes a line the user also changes (the seed in
params.yaml), then an unreleased commit. A project is rendered at v1.0.0, the user edits it
and commits, and the project is updated the way a user does it: `copier.run_update` without
`--trust`, the rendered `make update-template`, or cruft for a Cookiecutter project.

The answer-switch assertions are generic: whatever a fresh render with the old answer has
and one with the new answer lacks must be gone after the switch, and the reverse must be
present; every other file is byte for byte the fresh render with the new answer. They grow
stronger by themselves as tool adapters add files.

Also here: the rendered CI jobs that report a newer release (run with `uvx` and `gh` shims),
the documented move from cruft to Copier (run as written), the release-tag check and
`_min_copier_version` (that Copier, from PyPI, must render and update like the tested one).
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import copier
import pytest
import yaml

import check_release
from support.checks import check_all
from support.gitlab_yaml import GitLabLoader
from support.rendering import ROOT, TEMPLATE, choices, defaults

OLD, NEW = "v1.0.0", "v1.1.0"
BIN = Path(sys.executable).parent
PROJECT = "{{cookiecutter.project_slug}}"  # the rendered project's directory in template/

# What release v1.1.0 changes (paths in the rendered project).
MODIFIED = "Makefile"
ADDED = "docs/release-notes-1-1.md"
# Two documentation pages every project has (any two but the index): the release removes
# both; the user edits the second.
REMOVED_UNTOUCHED, REMOVED_EDITED = sorted(
    f"docs/{page.name}"
    for page in (TEMPLATE / PROJECT / "docs").glob("*.md")
    if page.name != "index.md" and "{" not in page.name
)[:2]
DEPENDENCIES = "pyproject.toml"
CONFLICTING = "params.yaml"
SEED = re.compile(r"^seed: \d+$", re.MULTILINE)
TEMPLATE_SEED, USER_SEED = "seed: 2024", "seed: 7"
UNRELEASED = "docs/unreleased.md"
ADDED_TEXT = "# Release notes 1.1\n\nAdded by the template's release v1.1.0.\n"
MAKE_TARGET = "\nrelease-notes: ## Show what the template's last release changed\n\t@cat {}\n"


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout


def commit_all(repository: Path, message: str) -> None:
    git(repository, "add", "-A")
    git(repository, "commit", "-q", "--no-verify", "-m", message)


def project_files(project: Path) -> dict[str, bytes]:
    """Every file of a project but git's own, by relative path."""
    return {
        path.relative_to(project).as_posix(): path.read_bytes()
        for path in sorted(project.rglob("*"))
        if path.is_file() and path.relative_to(project).parts[0] != ".git"
    }


def bump_first_dependency(pyproject: str) -> tuple[str, str, str]:
    """Raise the minor lower bound of the first runtime dependency: (text, old, new line)."""
    block = pyproject.index("dependencies = [")
    match = re.compile(r'^    "([A-Za-z0-9_.-]+)>=(\d+)\.(\d+)[.\d]*([^"]*)",', re.M).search(
        pyproject, block
    )
    assert match, "no pinned runtime dependency to bump in the template's pyproject.toml"
    name, major, minor, rest = match.groups()
    new_line = f'    "{name}>={major}.{int(minor) + 1}{rest}",'
    text = pyproject[: match.start()] + new_line + pyproject[match.end() :]
    return text, match.group(0), new_line


@dataclass(frozen=True)
class Releases:
    source: Path
    old_dependency: str
    new_dependency: str


def publish_release(template_dir: Path) -> tuple[str, str]:
    """The scripted v1.1.0 change, applied to a copy of template/ (see the module doc)."""
    project = template_dir / PROJECT
    for path in (MODIFIED, REMOVED_UNTOUCHED, REMOVED_EDITED, DEPENDENCIES, CONFLICTING):
        assert (project / path).is_file(), f"the scripted release expects {path} in template/"
    assert not (project / ADDED).exists()
    makefile = project / MODIFIED
    makefile.write_text(makefile.read_text() + MAKE_TARGET.format(ADDED), encoding="utf-8")
    (project / ADDED).write_text(ADDED_TEXT, encoding="utf-8")
    (project / REMOVED_UNTOUCHED).unlink()
    (project / REMOVED_EDITED).unlink()
    pyproject, old, new = bump_first_dependency((project / DEPENDENCIES).read_text())
    (project / DEPENDENCIES).write_text(pyproject, encoding="utf-8")
    params = (project / CONFLICTING).read_text()
    assert SEED.search(params), "the scripted release expects a `seed:` line in params.yaml"
    (project / CONFLICTING).write_text(SEED.sub(TEMPLATE_SEED, params, 1), encoding="utf-8")
    return old, new


@pytest.fixture(scope="module")
def releases(tmp_path_factory: pytest.TempPathFactory) -> Releases:
    """The template of this working tree as release v1.0.0, then the scripted v1.1.0."""
    source = tmp_path_factory.mktemp("template-repo")
    for name in ("copier.yml", "options.yml"):
        shutil.copy2(ROOT / name, source / name)
    shutil.copytree(TEMPLATE, source / "template")
    git(source, "init", "-q", "-b", "main")
    commit_all(source, "release 1.0.0")
    git(source, "tag", OLD)
    old, new = publish_release(source / "template")
    commit_all(source, "release 1.1.0")
    git(source, "tag", NEW)
    # Work after the newest release: updates go to release tags, never to this.
    (source / "template" / PROJECT / UNRELEASED).write_text("Not released yet.\n")
    commit_all(source, "unreleased work")
    return Releases(source, old, new)


def render(releases: Releases, answers: dict[str, str], destination: Path, ref: str) -> Path:
    copier.run_copy(
        str(releases.source),
        destination,
        data=answers,
        vcs_ref=ref,
        defaults=True,
        quiet=True,
        unsafe=False,
    )
    return destination


def update(
    project: Path, data: dict[str, str] | None = None, conflict: Literal["inline", "rej"] = "inline"
) -> None:
    """`copier update --defaults [--data k=v ...]`: to the newest release, no --trust."""
    copier.run_update(
        project,
        data=data,
        conflict=conflict,
        defaults=True,
        overwrite=True,
        quiet=True,
        unsafe=False,
    )


def insert_after_first_line(text: str, line: str) -> str:
    first, rest = text.split("\n", 1)
    return f"{first}\n{line}\n{rest}"


def insert_before_closing_bracket(text: str, line: str) -> str:
    """Add an entry at the end of the `dependencies = [...]` list."""
    block = text.index("dependencies = [")
    end = text.index("\n]", block)
    return f"{text[:end]}\n{line}{text[end:]}"


USER_MAKE_LINE = "# Team rule: run `make lint test` before every push."
USER_DEPENDENCY = '    "tenacity>=9.0,<10",  # added by the team'
USER_README = "\n## Team notes\n\nOur own section: the template never writes here.\n"
USER_MODULE = '"""Features only this team uses."""\n\nTEAM_THRESHOLD = 0.42\n'
USER_NOTES = "# Experiments\n\n- 2026-01: tried gradient boosting.\n"
USER_NOTE = "\nTeam note on the principles.\n"

# The user's edits of rendered files, in regions no release touches: each must land on
# whatever the update renders for that file, byte for byte.
EDITS: dict[str, Callable[[str], str]] = {
    "README.md": lambda text: text + USER_README,
    MODIFIED: lambda text: insert_after_first_line(text, USER_MAKE_LINE),
    DEPENDENCIES: lambda text: insert_before_closing_bracket(text, USER_DEPENDENCY),
}


def user_edits(project: Path, *, conflicting: bool) -> dict[str, bytes]:
    """Edit a project the way a team does and commit; returns the files the user added."""
    (package,) = (project / "src").iterdir()
    added = {
        f"src/{package.name}/team_features.py": USER_MODULE,
        "notes/experiments.md": USER_NOTES,
    }
    for name, text in added.items():
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text(text, encoding="utf-8")
    for name, edit in EDITS.items():
        (project / name).write_text(edit((project / name).read_text()), encoding="utf-8")
    principles = project / REMOVED_EDITED
    principles.write_text(principles.read_text() + USER_NOTE, encoding="utf-8")
    if conflicting:
        params = project / CONFLICTING
        params.write_text(SEED.sub(USER_SEED, params.read_text(), 1), encoding="utf-8")
    commit_all(project, "our edits")
    return {name: text.encode() for name, text in added.items()}


def assert_user_work_kept(
    files: dict[str, bytes], fresh: dict[str, bytes], added: dict[str, bytes]
) -> None:
    """User-added files byte for byte; each edit on top of the freshly rendered file."""
    for name, content in added.items():
        assert files[name] == content, f"the user's {name} changed"
    for name, edit in EDITS.items():
        assert files[name].decode() == edit(fresh[name].decode()), f"{name}: edit lost"


def rendered_at_old_release(releases: Releases, tmp_path: Path, **answers: str) -> Path:
    project = render(releases, answers, tmp_path / "project", OLD)
    git(project, "init", "-q", "-b", "main")
    commit_all(project, f"rendered from {OLD}")
    return project


# ---- A release with a modified, an added and two removed files, a bumped dependency and
# ---- a conflicting line -----------------------------------------------------------------


def merge_conflict_hook(project: Path, *files: str) -> subprocess.CompletedProcess[str]:
    """The project's `check-merge-conflict` pre-commit hook, as configured there (the
    hook's package from PyPI at the pinned rev)."""
    config = yaml.safe_load((project / ".pre-commit-config.yaml").read_text())
    ((repository, hook),) = [
        (repo, hook)
        for repo in config["repos"]
        for hook in repo["hooks"]
        if hook["id"] == "check-merge-conflict"
    ]
    package = f"pre-commit-hooks=={repository['rev'].removeprefix('v')}"
    command = [uv(), "tool", "run", "--from", package, "check-merge-conflict"]
    return subprocess.run(
        [*command, *hook.get("args", []), *files],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
    )


def uv() -> str:
    found = os.environ.get("UV") or shutil.which("uv")
    assert found, "uv runs tools from PyPI at the versions a project pins"
    return found


def test_update_keeps_user_work_brings_changes_and_marks_the_conflict_inline(
    releases: Releases, tmp_path: Path
) -> None:
    project = rendered_at_old_release(releases, tmp_path)
    added = user_edits(project, conflicting=True)
    readme = (project / "README.md").read_bytes()

    update(project)

    fresh = project_files(render(releases, {}, tmp_path / "fresh", NEW))
    files = project_files(project)
    assert_user_work_kept(files, fresh, added)
    # A file the release did not touch is exactly as the user committed it.
    assert files["README.md"] == readme
    # The release's changes arrive: the modified Makefile (under the user's line), the
    # bumped dependency (beside the user's), the added file; the untouched removed file goes.
    assert files[MODIFIED].decode().endswith(MAKE_TARGET.format(ADDED))
    assert releases.new_dependency in files[DEPENDENCIES].decode()
    assert releases.old_dependency not in files[DEPENDENCIES].decode()
    assert files[ADDED] == ADDED_TEXT.encode()
    assert REMOVED_UNTOUCHED not in files
    # Copier removes a file the template removed even if the user edited it (by design,
    # copier-org/copier#619): never silently, since the update runs on a clean tree,
    # `git status` shows the deletion and the committed edit is one `git restore` away.
    assert REMOVED_EDITED not in files
    assert f" D {REMOVED_EDITED}" in git(project, "status", "--porcelain").splitlines()
    assert USER_NOTE in git(project, "show", f"HEAD:{REMOVED_EDITED}")
    # The conflicting line: inline markers with both versions, and no `.rej` besides them.
    params = files[CONFLICTING].decode()
    assert (
        f"<<<<<<< before updating\n{USER_SEED}\n=======\n{TEMPLATE_SEED}\n>>>>>>> after updating\n"
    ) in params
    assert not [name for name in files if name.endswith(".rej")]
    # Git records the conflict, so `git commit` refuses until it is resolved, and the
    # project's pre-commit hook rejects the markers even after a careless `git add`.
    assert git(project, "ls-files", "--unmerged", "--", CONFLICTING).strip()
    assert merge_conflict_hook(project, CONFLICTING).returncode == 1
    # The answers file records the new release; the answers stay.
    answers = yaml.safe_load(files[".copier-answers.yml"])
    assert answers["_commit"] == NEW
    assert {k: answers[k] for k in defaults()} == defaults()
    # Nothing else differs from a fresh render of the new release.
    touched = {*added, *EDITS, CONFLICTING}
    assert {k: v for k, v in files.items() if k not in touched} == {
        k: v for k, v in fresh.items() if k not in touched
    }


def test_update_with_conflict_rej_keeps_the_user_text_in_rej_files(
    releases: Releases, tmp_path: Path
) -> None:
    project = rendered_at_old_release(releases, tmp_path, ci="gitlab")
    added = user_edits(project, conflicting=True)

    update(project, conflict="rej")

    fresh = project_files(render(releases, {"ci": "gitlab"}, tmp_path / "fresh", NEW))
    files = project_files(project)
    assert_user_work_kept(files, fresh, added)
    # The release's line is applied; the user's rejected hunk is kept beside it.
    assert files[CONFLICTING] == fresh[CONFLICTING]
    assert f"+{USER_SEED}" in files[f"{CONFLICTING}.rej"].decode()
    # The user's edit of a file the release removed survives as a reject file.
    assert USER_NOTE.strip() in files[f"{REMOVED_EDITED}.rej"].decode()
    # Both show in `git status` (no ignore rule hides them).
    status = git(project, "status", "--porcelain", "--untracked-files=all").splitlines()
    assert {f"?? {CONFLICTING}.rej", f"?? {REMOVED_EDITED}.rej"} <= set(status)
    assert files[ADDED] == ADDED_TEXT.encode()
    assert yaml.safe_load(files[".copier-answers.yml"])["_commit"] == NEW


# ---- Switching answers on update ----------------------------------------------------------

# (old answers, new answers): every tool question switched from one tool to another, and to
# and from "none"/"local" (the commonest single switch, the tracker, on its own).
SWITCHES: tuple[tuple[dict[str, str], dict[str, str]], ...] = (
    ({"tracker": "mlflow"}, {"tracker": "none"}),
    (
        {"tracker": "dvc", "orchestrator": "prefect", "cloud": "aws", "ci": "github"},
        {"tracker": "wandb", "orchestrator": "airflow", "cloud": "gcp", "ci": "gitlab"},
    ),
    (
        {"tracker": "none", "orchestrator": "dagster", "cloud": "azure", "ci": "gitlab"},
        {"tracker": "mlflow", "orchestrator": "none", "cloud": "local", "ci": "none"},
    ),
)


def switch_id(switch: tuple[dict[str, str], dict[str, str]]) -> str:
    old, new = switch
    return "+".join(f"{q}={old[q]}->{new[q]}" for q in old)


def test_switches_cover_every_tool_question() -> None:
    switched = {q for old, new in SWITCHES for q in old if old[q] != new[q]}
    assert switched >= {"tracker", "orchestrator", "cloud", "ci"}
    for old, new in SWITCHES:
        for answers in (old, new):
            for question, value in answers.items():
                assert value in choices(question), f"{question}={value} is not a choice"


@pytest.mark.parametrize("switch", SWITCHES, ids=switch_id)
def test_switching_answers_on_update_swaps_the_tools_and_keeps_user_edits(
    switch: tuple[dict[str, str], dict[str, str]], releases: Releases, tmp_path: Path
) -> None:
    old, new = switch
    project = rendered_at_old_release(releases, tmp_path, **old)
    added = user_edits(project, conflicting=False)

    update(project, data=new)

    files = project_files(project)
    with_old = project_files(render(releases, old, tmp_path / "fresh-old", NEW))
    with_new = project_files(render(releases, new, tmp_path / "fresh-new", NEW))
    # The old tools' files go, the new ones' arrive.
    left_over = sorted(set(with_old) - set(with_new) & set(files))
    missing = sorted(set(with_new) - set(with_old) - set(files))
    assert not left_over, f"files of the old answer left behind: {left_over}"
    assert not missing, f"files of the new answer missing: {missing}"
    # The user's own files and edits stay.
    assert_user_work_kept(files, with_new, added)
    # Every other file is exactly the fresh render with the new answers.
    touched = {*added, *EDITS}
    assert {k: v for k, v in files.items() if k not in touched} == {
        k: v for k, v in with_new.items() if k not in touched
    }
    answers = yaml.safe_load(files[".copier-answers.yml"])
    assert answers["_commit"] == NEW
    assert {q: answers[q] for q in new} == new
    # The switched project still passes the fast checks (ruff, compile, YAML, CI schemas,
    # actionlint, make, shellcheck, hadolint).
    checked = shutil.copytree(project, tmp_path / "checked", ignore=shutil.ignore_patterns(".git"))
    assert check_all([checked]) == []


# ---- Cookiecutter projects: cruft --------------------------------------------------------


def cruft(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "cruft"), *args], cwd=project, capture_output=True, text=True, check=False
    )


def test_cruft_update_keeps_user_edits_and_check_reports_staleness(
    releases: Releases, tmp_path: Path, shims: Path
) -> None:
    created = subprocess.run(
        [
            *(str(BIN / "cruft"), "create", "--no-input", "--directory", "template"),
            *("--checkout", OLD, "--output-dir", str(tmp_path / "cruft"), str(releases.source)),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert created.returncode == 0, created.stderr
    (project,) = (tmp_path / "cruft").iterdir()
    git(project, "init", "-q", "-b", "main")
    commit_all(project, f"created with cruft from {OLD}")
    added = user_edits(project, conflicting=False)

    stale = cruft(project, "check")
    assert stale.returncode == 1, stale.stdout + stale.stderr
    assert "out of date" in stale.stdout

    make_update_template(project, shims, f"TEMPLATE_REF={NEW}")

    fresh = project_files(render(releases, {}, tmp_path / "fresh", NEW))
    files = project_files(project)
    assert_user_work_kept(files, fresh, added)
    assert releases.new_dependency in files[DEPENDENCIES].decode()
    assert files[ADDED] == ADDED_TEXT.encode()
    assert REMOVED_UNTOUCHED not in files
    # cruft keeps a removed file the user edited (its removal does not apply).
    assert USER_NOTE in files[REMOVED_EDITED].decode()
    state = json.loads(files[".cruft.json"])
    assert state["commit"] == git(releases.source, "rev-list", "-n", "1", NEW).strip()
    assert UNRELEASED not in files
    commit_all(project, f"cruft update to {NEW}")
    current = cruft(project, "check", "--checkout", NEW)
    assert current.returncode == 0, current.stdout + current.stderr
    # Plain `cruft check` compares with the newest commit, released or not (documented).
    assert cruft(project, "check").returncode == 1


def documented_commands(heading: str) -> str:
    """The first ```bash block under a heading of docs/updating.md."""
    text = (ROOT / "docs" / "updating.md").read_text()
    block = re.search(rf"^#+ {re.escape(heading)}\n.*?```bash\n(.*?)```", text, re.S | re.M)
    assert block, f"docs/updating.md has no commands under {heading!r}"
    return block.group(1)


def test_a_cruft_project_moves_to_copier_updates_as_documented(
    releases: Releases, tmp_path: Path, shims: Path
) -> None:
    """The commands of docs/updating.md, run as written (with this scratch template and
    its first release), link a cruft project to Copier; `make update-template` then brings
    the next release and keeps the user's work, as for a project Copier rendered."""
    subprocess.run(
        [
            *(str(BIN / "cruft"), "create", "--no-input", "--directory", "template"),
            *("--checkout", OLD, "--output-dir", str(tmp_path / "cruft"), str(releases.source)),
        ],
        check=True,
        capture_output=True,
    )
    (project,) = (tmp_path / "cruft").iterdir()
    git(project, "init", "-q", "-b", "main")
    commit_all(project, f"created with cruft from {OLD}")
    added = user_edits(project, conflicting=False)

    commands = (
        documented_commands("Move a Cookiecutter project to Copier updates")
        .replace("/tmp/", f"{tmp_path}/")
        .replace("gh:<owner>/mlops-template", str(releases.source))
        .replace("v1.2.0", OLD)
    )
    moved = run_script(commands, project, shims, {})
    assert moved.returncode == 0, moved.stdout + moved.stderr

    files = project_files(project)
    assert ".cruft.json" not in files
    fresh = project_files(render(releases, {}, tmp_path / "fresh", NEW))
    assert_user_work_kept(files, fresh, added)
    touched = {*added, *EDITS}
    assert {k: v for k, v in files.items() if k not in touched} == {
        k: v for k, v in fresh.items() if k not in touched
    }


# ---- What the rendered project runs: `make update-template` and the scheduled CI checks -----


@pytest.fixture
def shims(tmp_path: Path) -> Path:
    """`uvx [--from SPEC] TOOL ...` runs TOOL from this environment (the tested versions,
    offline); `gh` logs its arguments to $GH_LOG (one JSON list a line) and answers
    `issue list` with $GH_EXISTING."""
    shims = tmp_path / "shims"
    shims.mkdir()
    (shims / "uvx").write_text(
        f'#!/bin/sh\nif [ "$1" = --from ]; then shift 2; fi\ntool=$1\nshift\n'
        f'exec "{BIN}/$tool" "$@"\n'
    )
    (shims / "gh").write_text(
        f"#!{sys.executable}\n"
        "import json, os, sys\n"
        "with open(os.environ['GH_LOG'], 'a') as log:\n"
        "    log.write(json.dumps(sys.argv[1:]) + '\\n')\n"
        "if sys.argv[1:3] == ['issue', 'list']:\n"
        "    print(os.environ.get('GH_EXISTING', ''))\n"
    )
    for shim in shims.iterdir():
        shim.chmod(0o755)
    return shims


def make_update_template(project: Path, shims: Path, *args: str) -> None:
    """The rendered Makefile's target, as written (its uvx runs this environment's tools)."""
    result = run_script(f"make update-template {' '.join(args)}", project, shims, {})
    assert result.returncode == 0, result.stdout + result.stderr


def run_script(
    script: str, project: Path, shims: Path, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """A CI script as GitHub's and GitLab's bash shells run it (-e, -o pipefail)."""
    path = {"PATH": f"{shims}:{os.environ['PATH']}"}
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
        cwd=project,
        env={**os.environ, **path, **env},
        capture_output=True,
        text=True,
        check=False,
    )


def test_github_job_opens_one_issue_per_newer_release(
    releases: Releases, tmp_path: Path, shims: Path
) -> None:
    assert shutil.which("jq"), "the workflow parses JSON with jq, as on GitHub's runners"
    project = rendered_at_old_release(releases, tmp_path, ci="github")
    workflow = yaml.safe_load((project / ".github/workflows/template-update.yml").read_text())
    check, issue = workflow["jobs"]["check"]["steps"][-2:]
    assert workflow["jobs"]["check"]["permissions"] == {"contents": "read", "issues": "write"}
    log = tmp_path / "gh.log"

    def title() -> str:
        output = tmp_path / "github-output"
        output.write_text("")
        result = run_script(
            check["run"], project, shims, {**check["env"], "GITHUB_OUTPUT": str(output)}
        )
        assert result.returncode == 0, result.stdout + result.stderr
        outputs = dict(line.split("=", 1) for line in output.read_text().splitlines())
        return outputs.get("title", "")

    def report(newer: str, existing: str) -> list[str]:
        env = {"TITLE": newer, "BODY": issue["env"]["BODY"], "GH_LOG": str(log)}
        result = run_script(issue["run"], project, shims, {**env, "GH_EXISTING": existing})
        assert result.returncode == 0, result.stdout + result.stderr
        reported: list[str] = json.loads(log.read_text().splitlines()[-1])
        return reported

    newer = title()
    assert newer == f"Template update available: {OLD[1:]} -> {NEW[1:]}"
    assert report(newer, "")[:4] == ["issue", "create", "--title", newer]
    edited = report(newer, "7")
    assert edited[:3] == ["issue", "edit", "7"]  # the open issue is updated, not doubled
    assert "make update-template" in edited[-1]
    make_update_template(project, shims)
    commit_all(project, f"update to {NEW}")
    assert title() == ""


def test_gitlab_job_warns_about_a_newer_release(
    releases: Releases, tmp_path: Path, shims: Path
) -> None:
    project = rendered_at_old_release(releases, tmp_path, ci="gitlab")
    job = yaml.load((project / ".gitlab-ci.yml").read_text(), GitLabLoader)["template-update"]
    assert job["allow_failure"] == {"exit_codes": [2]}
    script = "\n".join(job["script"])

    newer = run_script(script, project, shims, job["variables"])
    assert newer.returncode == 2, newer.stdout + newer.stderr
    assert f"latest version is {NEW[1:]}" in newer.stdout
    make_update_template(project, shims)
    commit_all(project, f"update to {NEW}")
    current = run_script(script, project, shims, job["variables"])
    assert current.returncode == 0, current.stdout + current.stderr


# ---- Releases ------------------------------------------------------------------------------


def release_problems(tag: str, changelog: str) -> list[str]:
    return check_release.problems(tag, changelog)


def test_a_release_tag_is_semantic_and_has_its_changelog_section() -> None:
    changelog = "# Changelog\n\n## [1.2.0] - 2026-03-01\n\n### Added\n\n- x\n"
    assert release_problems("v1.2.0", changelog) == []
    assert release_problems("v1.3.0", changelog), "a tag without release notes passed"
    for bad in ("1.2.0", "v1.2", "v01.2.0", "v1.2.0-rc1", "release-1"):
        notes = f"## [{bad.removeprefix('v')}] - 2026-03-01\n"  # only the tag is wrong
        assert release_problems(bad, notes), f"{bad} passed as a release tag"
    # The repository's own changelog parses and has the section new changes go to.
    assert "\n## [Unreleased]\n" in (ROOT / "CHANGELOG.md").read_text()


# ---- The oldest Copier the template admits --------------------------------------------------


def min_copier_version() -> str:
    found = re.search(r'^_min_copier_version: "([^"]+)"$', (ROOT / "copier.yml").read_text(), re.M)
    assert found, "copier.yml must declare _min_copier_version"
    return found.group(1)


def test_the_minimum_copier_version_renders_and_updates_like_the_tested_one(
    releases: Releases, tmp_path: Path
) -> None:
    """`_min_copier_version` is true: that release of Copier, from PyPI, renders a project
    and updates it (with a conflict) byte for byte as the tested Copier does."""
    minimum = min_copier_version()
    answers = {"ci": "gitlab", "tracker": "none"}
    data = [arg for q, v in answers.items() for arg in ("--data", f"{q}={v}")]
    results = []
    for engine in ("minimum", "tested"):
        project = tmp_path / engine / "project"
        if engine == "minimum":
            copier_cli = [uv(), "tool", "run", "--from", f"copier=={minimum}", "copier"]
            source = (str(releases.source), str(project))
            subprocess.run(
                [*copier_cli, "copy", "--quiet", "--defaults", "--vcs-ref", OLD, *data, *source],
                check=True,
                capture_output=True,
            )
        else:
            render(releases, answers, project, OLD)
        rendered = project_files(project)
        git(project, "init", "-q", "-b", "main")
        commit_all(project, f"rendered from {OLD}")
        user_edits(project, conflicting=True)
        if engine == "minimum":
            subprocess.run(
                [*copier_cli, "update", "--quiet", "--defaults"],
                cwd=project,
                check=True,
                capture_output=True,
            )
        else:
            update(project)
        results.append((rendered, project_files(project)))
    (min_render, min_update), (render_, update_) = results
    assert min_render == render_
    assert min_update == update_


# ---- This release's moves: the flat modules into stage packages, between real releases ----

# The previous release: the last commit with the flat `src/<pkg>/*.py` modules. The scenario
# needs the repository's history (template-ci.yml checks the updates tier out in full).
FLAT_RELEASE = "abca039f06ab5f30a931f41e07b3929fa38ea22a"
GATE_RULE = "TEAM_MIN_GROUPS = 3  # team rule: every fairness report covers three groups"
TEAM_THRESHOLDS = "THRESHOLDS = np.round(np.arange(0.10, 0.91, 0.01), 2)  # team range"


def replace_once(old: str, new: str) -> Callable[[str], str]:
    def edit(text: str) -> str:
        assert text.count(old) == 1, f"the edit expects one {old!r}"
        return text.replace(old, new)

    return edit


# Edits of two modules this release moves (gate.py -> registry/gate.py, decision.py ->
# tasks/threshold.py), each with the line that must stay in sight...
MOVED_EDITS: dict[str, tuple[Callable[[str], str], str]] = {
    "gate.py": (lambda text: f"{text}\n\n{GATE_RULE}\n", GATE_RULE),
    "decision.py": (
        replace_once("THRESHOLDS = np.round(np.arange(0.05, 0.96, 0.01), 2)", TEAM_THRESHOLDS),
        TEAM_THRESHOLDS,
    ),
}
# ...and of one that stays, in a line the release does not touch (it changes the module
# elsewhere): the edit must land on this release's config.py.
STAYING, STAYING_EDIT = (
    "config.py",
    replace_once("Field(default=1.0, gt=0, description=", "Field(default=5.0, gt=0, description="),
)
TEAM_MODULE = "team_features.py"


@dataclass(frozen=True)
class FlatProject:
    template: Path  # a git repository: the previous release tagged OLD, this tree NEW
    project: Path  # rendered at OLD, edited by the user, committed
    package: str  # the project's `src/<package>`
    fresh: dict[str, bytes]  # a fresh render of NEW


@pytest.fixture(scope="module")
def flat_project(tmp_path_factory: pytest.TempPathFactory) -> FlatProject:
    """The previous release's real content as v1.0.0, this working tree as v1.1.0, and a
    project rendered at v1.0.0 with the user's edits committed."""
    template = tmp_path_factory.mktemp("flat-then-staged")
    parts = ("copier.yml", "options.yml", "template")
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", FLAT_RELEASE, *parts],
        capture_output=True,
        check=False,
    )
    assert archive.returncode == 0, (
        f"the previous release {FLAT_RELEASE[:7]} is not in this clone (shallow? "
        f"`git fetch --unshallow`): {archive.stderr.decode().strip()}"
    )
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(template, filter="data")
    git(template, "init", "-q", "-b", "main")
    commit_all(template, "the flat modules")
    git(template, "tag", OLD)
    shutil.rmtree(template / "template")
    shutil.copytree(TEMPLATE, template / "template")
    for name in ("copier.yml", "options.yml"):
        shutil.copy2(ROOT / name, template / name)
    commit_all(template, "the stage packages")
    git(template, "tag", NEW)

    def render_at(ref: str, destination: Path) -> Path:
        copier.run_copy(
            str(template), destination, vcs_ref=ref, defaults=True, quiet=True, unsafe=False
        )
        return destination

    project = render_at(OLD, tmp_path_factory.mktemp("flat") / "project")
    package = edit_flat_project(project)
    fresh = project_files(render_at(NEW, tmp_path_factory.mktemp("staged") / "fresh"))
    return FlatProject(template, project, package, fresh)


def edit_flat_project(project: Path) -> str:
    """Commit the render, then the user's edits; returns the package's name."""
    (package,) = (path.name for path in (project / "src").iterdir() if path.is_dir())
    source = project / "src" / package
    assert (source / "gate.py").is_file(), f"{FLAT_RELEASE[:7]} is not the flat layout"
    assert not (source / "registry").exists()
    git(project, "init", "-q", "-b", "main")
    commit_all(project, f"rendered from {OLD}")
    for module, (edit, _) in MOVED_EDITS.items():
        (source / module).write_text(edit((source / module).read_text()), encoding="utf-8")
    (source / STAYING).write_text(STAYING_EDIT((source / STAYING).read_text()), encoding="utf-8")
    (source / TEAM_MODULE).write_text(USER_MODULE, encoding="utf-8")
    commit_all(project, "our edits")
    return package


def changelog_moves() -> dict[str, list[str]]:
    """The Unreleased section's table: previous module -> the modules it moved to."""
    changelog = (ROOT / "CHANGELOG.md").read_text()
    unreleased = changelog.split("\n## [Unreleased]\n", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\s*\| `(\w+\.py)` \| (`.+`) \|$", unreleased, re.M)
    return {old: re.findall(r"`([\w/]+\.py)`", new) for old, new in rows}


def changelog_commands(step: str) -> str:
    """The ```bash block of the Unreleased manual step that starts with `step`."""
    changelog = (ROOT / "CHANGELOG.md").read_text()
    unreleased = changelog.split("\n## [Unreleased]\n", 1)[1].split("\n## ", 1)[0]
    block = re.search(rf"^- {re.escape(step)}.*?```bash\n(.*?)\s*```", unreleased, re.S | re.M)
    assert block, f"CHANGELOG.md's Unreleased section has no commands under {step!r}"
    return re.sub(r"^\s+", "", block.group(1), flags=re.M)


def updated_copy(flat: FlatProject, tmp_path: Path) -> Path:
    return shutil.copytree(flat.project, tmp_path / "project", symlinks=True)


def assert_staying_work_kept(flat: FlatProject, files: dict[str, bytes]) -> None:
    """(b) the edit of a module that stays, on this release's version; (c) the user's own
    module, byte for byte."""
    source = f"src/{flat.package}"
    assert files[f"{source}/{STAYING}"].decode() == STAYING_EDIT(
        flat.fresh[f"{source}/{STAYING}"].decode()
    )
    assert files[f"{source}/{TEAM_MODULE}"] == USER_MODULE.encode()


def test_make_update_template_deletes_a_moved_module_with_the_edit_as_any_other(
    flat_project: FlatProject, tmp_path: Path, shims: Path
) -> None:
    """What Copier does with an edit in a module this release moves, by default (inline
    conflicts, the rendered `make update-template`): it deletes the module, and `git status`
    lists it among the moved modules the user never touched. The edit is only in the last
    commit, which is why the CHANGELOG's manual step takes this release with `.rej` files."""
    project = updated_copy(flat_project, tmp_path)

    make_update_template(project, shims)

    files = project_files(project)
    assert_staying_work_kept(flat_project, files)
    source = f"src/{flat_project.package}"
    deleted = {
        line[3:] for line in git(project, "status", "--porcelain").splitlines() if line[:3] == " D "
    }
    assert deleted == {f"{source}/{old}" for old in changelog_moves()}
    for module, (_, line) in MOVED_EDITS.items():
        assert f"{source}/{module}" not in files
        assert line in git(project, "show", f"HEAD:{source}/{module}")
        assert not [name for name, text in files.items() if line.encode() in text]
    assert not [name for name in files if name.endswith(".rej")]
    assert yaml.safe_load(files[".copier-answers.yml"])["_commit"] == NEW


def test_the_changelog_step_for_the_moves_leaves_each_moved_edit_in_sight(
    flat_project: FlatProject, tmp_path: Path, shims: Path
) -> None:
    """The CHANGELOG's manual step, run as written: every edit of a moved module is a
    `.rej` patch that `git status` shows; the CHANGELOG's table names every module the
    release removes and where it went."""
    project = updated_copy(flat_project, tmp_path)

    commands = changelog_commands("**Your edits of the moved modules.**")
    result = run_script(commands, project, shims, {})

    assert result.returncode == 0, result.stdout + result.stderr
    files = project_files(project)
    assert_staying_work_kept(flat_project, files)
    source = f"src/{flat_project.package}"
    rejected = {f"?? {source}/{module}.rej" for module in MOVED_EDITS}
    assert set(result.stdout.splitlines()) == rejected  # the listing the CHANGELOG shows
    for module, (_, line) in MOVED_EDITS.items():
        assert f"+{line}" in files[f"{source}/{module}.rej"].decode()
    # The table: every module the update deleted, each moved to modules this release has.
    moves = changelog_moves()
    status = git(project, "status", "--porcelain").splitlines()
    assert {line[3:] for line in status if line[:3] == " D "} == {f"{source}/{m}" for m in moves}
    for old, new in moves.items():
        assert new, f"the CHANGELOG's table moves {old} nowhere"
        assert {f"{source}/{module}" for module in new} <= set(files), f"{old} -> {new}"
    for module in MOVED_EDITS:
        for new_module in moves[module]:
            path = f"{source}/{new_module}"
            assert files[path] == flat_project.fresh[path]  # the user moves the edit by hand
    assert yaml.safe_load(files[".copier-answers.yml"])["_commit"] == NEW


def test_cruft_carries_each_edit_of_a_moved_module_into_the_working_tree(
    flat_project: FlatProject, tmp_path: Path, shims: Path
) -> None:
    """A Cookiecutter project's `make update-template` (cruft) loses no edit of a moved
    module either: git's rename detection carries it to the new module (as conflict
    markers where the release changed the same lines), or the old module stays."""
    created = subprocess.run(
        [
            *(str(BIN / "cruft"), "create", "--no-input", "--directory", "template"),
            *("--checkout", OLD, "--output-dir", str(tmp_path / "cruft")),
            str(flat_project.template),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert created.returncode == 0, created.stderr
    (project,) = (tmp_path / "cruft").iterdir()
    package = edit_flat_project(project)

    make_update_template(project, shims, f"TEMPLATE_REF={NEW}")

    files = project_files(project)
    source = f"src/{package}"
    assert package == flat_project.package
    assert_staying_work_kept(flat_project, files)
    for module, (_, line) in MOVED_EDITS.items():
        holding = {name for name, text in files.items() if line.encode() in text}
        assert holding, f"cruft lost the edit of {module}"
        # In the old module or in the modules the CHANGELOG says it moved to.
        places = [module, *changelog_moves()[module]]
        assert holding <= {f"{source}/{place}" for place in places}, holding
