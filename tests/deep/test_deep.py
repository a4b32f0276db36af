"""Deep tier: a rendered project really works, end to end, as a user would run it.

For the default answers (tracker=mlflow) and for tracker=none (the local-files registry):
render with Copier, install with uv, then run the project's own test suite (`make test`, for
the default: tracker=none's suite runs in the orchestrator tier, in reverse order in
Flyte's render), its pipeline
(ingest, train, promote), its API (health, readiness, single and batch predictions, Prometheus
metrics), its drift monitor (exit code 3 on the bundled drifted batch), its DVC pipeline,
its lint and type checks and its documentation build; for the default, `make bench`'s scale
part (benchmarks/scale.py) on a small file and its memory bound's teeth. The wall times of
`make test` and `make pipeline` appear in the summary.

The two trackers are separate tests so that pytest-xdist runs them in parallel.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from support.deep import (
    DRIFT_EXIT_CODE,
    api_server,
    check_api,
    example_applicant,
    installed_project,
    run,
    timed,
)
from support.rendering import defaults
from support.reporting import RecordProperty

pytestmark = pytest.mark.deep

TRACKERS = ("mlflow", "none")


@pytest.mark.parametrize("tracker", TRACKERS)
def test_rendered_project_runs_end_to_end(
    tracker: str,
    copier_source: Path,
    tmp_path: Path,
    record_property: RecordProperty,
) -> None:
    for tool in ("uv", "make"):
        assert shutil.which(tool), f"the deep tests need `{tool}` on PATH"
    answers = {**defaults(), "tracker": tracker}
    project, env, cli, package = installed_project(
        copier_source, answers, tmp_path / f"project-{tracker}"
    )

    if tracker == defaults()["tracker"]:
        timed(["make", "test"], project, env, record_property, f"{tracker}: make test")
    timed(["make", "pipeline"], project, env, record_property, f"{tracker}: make pipeline")
    assert (project / "models" / "champion").is_dir(), "the gate kept no champion"
    promotion = json.loads((project / "reports" / "promotion.json").read_text("utf-8"))
    assert promotion, "reports/promotion.json is empty"
    assert json.loads((project / "reports" / "metrics.json").read_text("utf-8"))["roc_auc"] > 0.5

    if tracker == defaults()["tracker"]:
        check_scale_benchmark(project, env, package)

    applicant = example_applicant(project, package, env)
    with api_server(cli, project, env, tmp_path / f"api-{tracker}.log") as base:
        check_api(base, applicant)

    drifted = "data/processed/current.parquet"  # the bundled drifted batch
    monitor = run(
        ["uv", "run", "--no-sync", cli, "monitor", "--current", drifted], project, env, check=False
    )
    assert monitor.returncode == DRIFT_EXIT_CODE, (
        f"monitor exited {monitor.returncode}, expected {DRIFT_EXIT_CODE} (drift)\n"
        f"{monitor.stdout[-3000:]}\n{monitor.stderr[-3000:]}"
    )
    summary_file = project / "reports" / "monitoring" / "drift_summary.json"
    assert json.loads(summary_file.read_text("utf-8"))["drift_detected"] is True
    assert (project / "reports" / "monitoring" / "drift_report.html").is_file()

    # The same pipeline through DVC, in a git repository as the README asks: every stage
    # runs (no dvc.lock yet), the lock records them, and nothing is left to reproduce.
    run(["git", "init", "--quiet"], project, env)
    run(["make", "repro"], project, env)
    assert (project / "dvc.lock").is_file()
    status = run(["uv", "run", "--no-sync", "dvc", "status"], project, env)
    assert "up to date" in status.stdout, status.stdout

    run(["make", "lint", "typecheck", "docs"], project, env)
    assert (project / "site" / "index.html").is_file()


# The scale benchmark's memory bound has teeth: 500,000 rows scored in the shipped chunks of
# 10,000 stay under it; the same file read as one chunk (what a scorer that reads the whole
# file does) breaks the bound measured for chunks of 10,000. Prints both runs' figures.
BOUND_TEETH = """
import json, tempfile
from pathlib import Path
import pyarrow.parquet as pq
from benchmarks import scale
with tempfile.TemporaryDirectory() as directory:
    files = [Path(directory) / f"{name}.parquet" for name in ("empty", "one", "rows")]
    scale.write_input(files[2], 500_000, 10_000, seed=0)
    scale.write_input(files[1], 10_000, 10_000, seed=0)
    pq.write_table(pq.read_table(files[1]).schema.empty_table(), files[0])
    print(json.dumps([scale.scoring("local", 1, files, rows) for rows in (10_000, 500_000)]))
"""


def check_scale_benchmark(project: Path, env: dict[str, str], package: str) -> None:
    """`make bench`'s scale part (benchmarks/scale.py) runs end to end on a small file (20
    chunks, the champion, the local engine): it prints the scoring table (rows/s, peak
    memory, its bound) and the training table (seconds per 1M rows), chunked scoring stays
    under its memory bound (exit 0), and the bound catches a scorer that reads the whole
    file at once. Speed is the benchmark's to show, never checked here. (Run here, once,
    rather than in the render's `make test`, which has a budget of 60 s.)"""
    prefix = package.upper()
    small = {**env, f"{prefix}_SCORE__CHUNK_ROWS": "1000", f"{prefix}_COMPUTE__ENGINE": "local"}
    scale = ["uv", "run", "--no-sync", "python", "-m", "benchmarks.scale"]
    done = run([*scale, "--rows", "20000", "--train-rows", "5000"], project, small)
    lines = done.stdout.splitlines()
    assert lines[0].startswith("Scoring 20,000 contract rows"), done.stdout
    assert lines[1].split()[:3] == ["run", "rows/s", "vs"], done.stdout
    local = lines[2].split()
    assert (local[0], local[2], local[-1]) == ("local", "1.00", "yes"), done.stdout
    assert float(local[3].replace(",", "")) <= float(local[4].replace(",", ""))  # peak, bound
    assert any(line.startswith("Training LightGBM") for line in lines), done.stdout
    (trained,) = (line.split() for line in lines[3:] if line.startswith("local "))
    assert len(trained) == 5  # run, seconds per 1M rows, ratio, peak MB, held-out metric
    assert float(trained[-1]) > 0.5  # the labelling rule is learnable: not a coin toss

    chunks = {**env, f"{prefix}_COMPUTE__ENGINE": "local"}
    teeth = run(["uv", "run", "--no-sync", "python", "-c", BOUND_TEETH], project, chunks)
    chunked, whole = json.loads(teeth.stdout.splitlines()[-1])
    assert chunked["rows"] == whole["rows"] == 500_000
    assert chunked["under"], chunked
    assert not whole["under"], whole
