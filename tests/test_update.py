"""`copier update` brings a new template release into a project without losing its edits.

A scratch git repository holds the template; release v1 is rendered into a project (itself
a git repository), the user edits the project, the template publishes v2, and the update
must merge both: the user's edit stays, the template's change arrives, the answers persist.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import copier
import yaml

from conftest import ROOT, TEMPLATE


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout


def commit_all(repository: Path, message: str) -> None:
    git(repository, "add", "-A")
    git(repository, "commit", "-q", "-m", message)


def test_update_merges_template_changes_with_user_edits(tmp_path: Path) -> None:
    source = tmp_path / "template-repo"
    source.mkdir()
    for name in ("copier.yml", "options.yml"):
        shutil.copy2(ROOT / name, source / name)
    shutil.copytree(TEMPLATE, source / "template")
    git(source, "init", "-q", "-b", "main")
    commit_all(source, "template v1")
    git(source, "tag", "v1.0.0")

    project = tmp_path / "project"
    copier.run_copy(
        str(source), project, data={"ci": "gitlab", "tracker": "none"}, defaults=True, quiet=True
    )
    git(project, "init", "-q", "-b", "main")
    commit_all(project, "rendered from v1")

    # The user edits the project...
    params = project / "params.yaml"
    params.write_text(params.read_text().replace("seed: 42", "seed: 7"), encoding="utf-8")
    commit_all(project, "our own seed")

    # ...and the template publishes v2, changing another file.
    makefile = next((source / "template").glob("*/Makefile"))
    makefile.write_text(makefile.read_text() + "\n# added in v2\n", encoding="utf-8")
    commit_all(source, "template v2")
    git(source, "tag", "v2.0.0")

    copier.run_update(project, defaults=True, overwrite=True, quiet=True, unsafe=False)

    assert "seed: 7" in params.read_text()
    assert (project / "Makefile").read_text().endswith("# added in v2\n")
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert answers["_commit"] == "v2.0.0"
    assert (answers["ci"], answers["tracker"]) == ("gitlab", "none")
    assert (project / ".gitlab-ci.yml").is_file()
    assert not (project / ".github").exists()
