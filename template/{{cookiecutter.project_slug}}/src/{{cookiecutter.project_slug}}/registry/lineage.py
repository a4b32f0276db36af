"""Lineage: the data and the code a model was trained on, recorded with every registered
version (in the tracker), in its model card and in the API's `/ready` body.

* Data: the MD5 of the raw data file, the hash DVC records for it in dvc.lock (`md5:`), so
  a version names the exact data of a `dvc repro`; a changed file gives a new hash.
* Code: the git commit of the working tree, and whether it had uncommitted changes (a dirty
  tree means the commit alone does not reproduce the model). "none" outside a repository.
* Parameters: the MD5 of the settings that shape the model (seed, data, train), so CT can
  tell that nothing changed since the champion was trained (see champion.py).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

NO_COMMIT = "none"


def data_md5(path: Path) -> str:
    """The file's MD5, as DVC computes it (DVC 3 hashes the bytes as they are)."""
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _git(*args: str) -> str | None:
    git = shutil.which("git")
    if git is None:
        return None
    result = subprocess.run(  # noqa: S603  # fixed arguments, no shell
        [git, *args], capture_output=True, text=True, check=False
    )
    return result.stdout.strip() if result.returncode == 0 else None


def code_version() -> tuple[str, bool]:
    """The commit checked out in the working directory, and whether the tree is dirty."""
    commit = _git("rev-parse", "HEAD")
    if commit is None:
        return NO_COMMIT, False
    status = _git("status", "--porcelain", "--untracked-files=no")
    return commit, bool(status)


def commit_time(commit: str) -> datetime | None:
    """When `commit` was committed (None outside a repository, or for an unknown commit)."""
    when = None if commit == NO_COMMIT else _git("show", "-s", "--format=%cI", commit, "--")
    return datetime.fromisoformat(when) if when else None


def params_md5(params: Mapping[str, Any]) -> str:
    """The MD5 of settings as canonical JSON (key order does not matter)."""
    canonical = json.dumps(params, sort_keys=True, default=str).encode("utf-8")
    return hashlib.md5(canonical, usedforsecurity=False).hexdigest()


def describe(raw_data: Path, params: Mapping[str, Any] | None = None) -> dict[str, str]:
    """The lineage of a model trained now on `raw_data` with `params`."""
    commit, dirty = code_version()
    lineage = {
        "data_path": raw_data.as_posix(),
        "data_md5": data_md5(raw_data),
        "code_commit": commit,
        "code_dirty": str(dirty).lower(),
    }
    if params is not None:
        lineage["params_md5"] = params_md5(params)
    return lineage
