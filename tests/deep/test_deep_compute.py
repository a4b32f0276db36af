"""Deep tier: with compute=ray, the project's steps run on a multi-node Ray cluster.

Render with compute=ray and install it as `make setup` does (the `compute` dependency group
brings Ray), then run the render's own cluster test: it starts a three-node Ray cluster on
127.0.0.1 (`ray.cluster_utils.Cluster`), runs ingest, tuning, LightGBM's and XGBoost's
data-parallel fits and batch scoring through it, checks that each ran on more than one node
and that the results equal the local engine's, then kills a fourth node while it scores a
block and checks that the batch still completes with every row exactly once. Then the
project's strict type checks, which cover the Ray engine (ruff checks every render in
test_matrix.py). Wall times appear in the summary.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from support.deep import RENDER_PYTEST, installed_project, run, timed
from support.rendering import defaults
from support.reporting import RecordProperty

pytestmark = pytest.mark.deep

CLUSTER_TEST = "tests/infrastructure/test_ray_cluster.py"


def test_ray_runs_the_steps_on_several_nodes(
    copier_source: Path, tmp_path: Path, record_property: RecordProperty
) -> None:
    start = time.perf_counter()
    installed = installed_project(
        copier_source, {**defaults(), "compute": "ray"}, tmp_path / "project"
    )
    seconds = time.perf_counter() - start
    record_property("wall_time", f"compute=ray: render and uv sync: {seconds:.1f} s")
    project, env = installed.project, installed.env
    assert (project / CLUSTER_TEST).is_file()
    cluster = timed(
        [*RENDER_PYTEST, CLUSTER_TEST],
        project,
        env,
        record_property,
        "compute=ray: the three-node cluster test",
    )
    assert " passed" in cluster.stdout, cluster.stdout[-2000:]
    assert "skipped" not in cluster.stdout, cluster.stdout[-2000:]
    run(["make", "typecheck"], project, env)
