"""Resolution tier: every dependency set a user can render resolves.

The rendered pyproject.toml depends on the tracker, the orchestrator, the cloud and the Python
version (each tool's dependency group, requires-python); `uv lock` must resolve it for every
orchestrator x tracker x Python version, so that no answer leads to an unresolvable project.
requires-python is a lower bound and uv's lock is universal (it solves for every Python the
bound admits), so the lock at the lowest version is also a solution at every later one: each
orchestrator x tracker is locked once, at the lowest version, after checking that the later
versions' renders differ from it in nothing but the Python version. The cloud (a DVC remote
plugin) is rotated over them so that every cloud meets every orchestrator and every tracker (a
Latin square: for one orchestrator the four trackers take the four clouds; for one tracker the
seven orchestrators do). Only pyproject.toml is rendered; the locks run in parallel threads
against the shared uv cache.
"""

from __future__ import annotations

import itertools
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import copier
import pytest

from support.rendering import choices, defaults, python_env
from support.reporting import RecordProperty

pytestmark = pytest.mark.deep

WORKERS = 4
LOCK_TIMEOUT = 900  # seconds for one `uv lock`


def lock(directory: Path) -> tuple[Path, int, str]:
    result = subprocess.run(
        ["uv", "lock", "--no-progress"],
        cwd=directory,
        env=python_env(),
        capture_output=True,
        text=True,
        check=False,
        timeout=LOCK_TIMEOUT,
    )
    return directory, result.returncode, result.stderr[-3000:]


def render_pyproject(copier_source: Path, answers: dict[str, str], project: Path) -> str:
    copier.run_copy(
        str(copier_source),
        project,
        data=answers,
        defaults=True,
        quiet=True,
        exclude=["*", "!pyproject.toml"],  # render pyproject.toml only
    )
    return (project / "pyproject.toml").read_text(encoding="utf-8")


def without_python_version(pyproject: str, version: str) -> str:
    """pyproject.toml with its Python version (requires-python, ruff's and mypy's targets)
    blanked out; `version` must appear as a lower bound."""
    assert f'requires-python = ">={version}"' in pyproject, "requires-python is not a lower bound"
    return pyproject.replace(version, "X").replace(version.replace(".", ""), "X")


def test_every_rendered_dependency_set_resolves(
    copier_source: Path, tmp_path: Path, record_property: RecordProperty
) -> None:
    start = time.perf_counter()
    versions = sorted(choices("python_version"), key=lambda v: tuple(map(int, v.split("."))))
    lowest = versions[0]
    clouds = choices("cloud")
    to_lock: dict[str, list[str]] = {}  # the lowest version's render -> the combinations
    pairs = itertools.product(*(enumerate(choices(axis)) for axis in ("orchestrator", "tracker")))
    for (o, orchestrator), (t, tracker) in pairs:
        cloud = clouds[(o + t) % len(clouds)]
        base = {**defaults(), "orchestrator": orchestrator, "tracker": tracker, "cloud": cloud}
        name = f"{orchestrator}-{tracker}-{cloud}"
        renders = {
            version: render_pyproject(
                copier_source, {**base, "python_version": version}, tmp_path / f"{name}-{version}"
            )
            for version in versions
        }
        for version, pyproject in renders.items():
            assert without_python_version(pyproject, version) == without_python_version(
                renders[lowest], lowest
            ), f"{name}: Python {version} changes more than the Python version"
        to_lock.setdefault(renders[lowest], []).append(name)
    directories = []
    for index, (content, names) in enumerate(to_lock.items()):
        directory = tmp_path / "lock" / str(index)
        directory.mkdir(parents=True)
        (directory / "pyproject.toml").write_text(content, encoding="utf-8")
        (directory / "README.md").write_text("resolution test\n", encoding="utf-8")
        directories.append((directory, names))
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        results = list(pool.map(lock, [directory for directory, _ in directories]))
    failures = [
        f"{', '.join(names)}:\n{stderr}"
        for (_, names), (_, code, stderr) in zip(directories, results, strict=True)
        if code != 0
    ]
    seconds = time.perf_counter() - start
    record_property(
        "wall_time",
        f"uv lock of {len(to_lock)} distinct pyproject.toml renders "
        f"(Python {lowest}, universal over {', '.join(versions)}): {seconds:.1f} s",
    )
    record_property("combinations", len(versions) * sum(len(names) for _, names in directories))
    assert not failures, "unresolvable renders:\n" + "\n".join(failures)
