"""Resolution tier: every dependency set a user can render resolves.

The rendered pyproject.toml depends on the tracker, the orchestrator, the cloud and the Python
version (each tool's dependency group, requires-python); `uv lock` must resolve it for every
orchestrator x tracker x Python version, so that no answer leads to an unresolvable project.
The cloud (a DVC remote plugin) is rotated over them so that every cloud meets every
orchestrator and every tracker (a Latin square: for one orchestrator the four trackers take
the four clouds; for one tracker the seven orchestrators do). Only pyproject.toml is
rendered; identical renders are locked once; the locks run in parallel threads against the
shared uv cache.
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

AXES = ("orchestrator", "tracker", "python_version")  # what pyproject.toml depends on
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


def test_every_rendered_dependency_set_resolves(
    copier_source: Path, tmp_path: Path, record_property: RecordProperty
) -> None:
    start = time.perf_counter()
    renders: dict[bytes, list[str]] = {}
    clouds = choices("cloud")
    for indexes in itertools.product(*(range(len(choices(axis))) for axis in AXES)):
        values = [choices(axis)[index] for axis, index in zip(AXES, indexes, strict=True)]
        cloud = clouds[sum(indexes) % len(clouds)]
        answers = {**defaults(), **dict(zip(AXES, values, strict=True)), "cloud": cloud}
        name = "-".join([*values, cloud])
        project = tmp_path / "render" / name
        copier.run_copy(
            str(copier_source),
            project,
            data=answers,
            defaults=True,
            quiet=True,
            exclude=["*", "!pyproject.toml"],  # render pyproject.toml only
        )
        renders.setdefault((project / "pyproject.toml").read_bytes(), []).append(name)
    directories = []
    for index, (content, names) in enumerate(renders.items()):
        directory = tmp_path / "lock" / str(index)
        directory.mkdir(parents=True)
        (directory / "pyproject.toml").write_bytes(content)
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
        "wall_time", f"uv lock of {len(renders)} distinct pyproject.toml renders: {seconds:.1f} s"
    )
    record_property("combinations", sum(len(names) for _, names in directories))
    assert not failures, "unresolvable renders:\n" + "\n".join(failures)
