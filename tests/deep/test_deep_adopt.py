"""Deep tier: a default project becomes another dataset's project with one command.

Scikit-learn ships three datasets offline that have nothing of German Credit's contract:
breast cancer (binary: 569 rows, 30 numeric columns whose names hold spaces, no sensitive
attribute), wine (multiclass: 178 rows, three cultivars, a column named with a slash) and
diabetes (regression: 442 rows, `sex` declared sensitive). In a fresh default render,
`<cli> adopt` alone must make the whole project work on each: only the data, the contract,
params.yaml and dvc.yaml change, and then the pipeline, DVC, the API, the drift monitor, the
simulation and the project's own suite all pass, as the README's "Bring your own data"
section promises.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from support.deep import (
    BREAST_CANCER,
    DIABETES,
    DRIFT_EXIT_CODE,
    WINE,
    SklearnDataset,
    adopt_again,
    adopt_dataset,
    api_server,
    example_applicant,
    http,
    installed_project,
    run,
    timed,
)
from support.rendering import defaults
from support.reporting import RecordProperty

pytestmark = pytest.mark.deep

# What `adopt` may change in the project besides data/ (untracked files included).
ADOPTION_FILES = ("contract.yaml", "params.yaml", "dvc.yaml")
# The held-out quality each dataset reaches with the default model (well below what was
# measured: breast cancer ROC AUC 0.99, wine 1.00, diabetes R² 0.44 against the mean's 0).
QUALITY_FLOOR = {"binary": ("roc_auc", 0.9), "multiclass": ("roc_auc", 0.9),
                 "regression": ("r2", 0.3)}  # fmt: skip


def _changed_files(project: Path, env: dict[str, str]) -> list[str]:
    status = run(["git", "status", "--porcelain", "--untracked-files=all"], project, env)
    return [line[3:] for line in status.stdout.splitlines()]


@pytest.mark.parametrize("dataset", [BREAST_CANCER, WINE, DIABETES], ids=lambda d: d.name)
def test_adopting_a_dataset_makes_every_step_work(
    dataset: SklearnDataset, copier_source: Path, tmp_path: Path, record_property: RecordProperty
) -> None:
    project, env, cli, package = installed_project(copier_source, defaults(), tmp_path / "project")
    run(["git", "init", "--quiet"], project, env)
    run(["git", "add", "--all"], project, env)
    run(["git", "commit", "--quiet", "--message", "rendered"], project, env)

    # The user's file, outside the project, as scikit-learn ships it.
    source = tmp_path / f"{dataset.name}.csv"
    said = adopt_dataset(project, cli, env, dataset, source)
    assert f"task: {dataset.task}" in said, said
    changed = _changed_files(project, env)
    assert changed, "adopt changed nothing"
    strays = [f for f in changed if f not in ADOPTION_FILES and not f.startswith("data/")]
    assert not strays, f"adopt changed more than data/, the contract, params and dvc: {strays}"
    run(["git", "add", "--all"], project, env)
    run(["git", "commit", "--quiet", "--message", "adopted"], project, env)
    again = adopt_again(project, cli, env, dataset, source)  # the same file, unchanged
    assert not _changed_files(project, env), f"a second adopt changed files:\n{again}"

    timed(["make", "pipeline"], project, env, record_property, f"{dataset.name}: make pipeline")
    assert (project / "models" / "champion").is_dir(), "the gate kept no champion"
    promotion = (project / "reports" / "promotion.json").read_text("utf-8")
    if dataset.sensitive:
        assert "fairness not assessed" not in promotion, promotion
        assert all(name in promotion for name in dataset.sensitive), promotion
    else:
        assert "fairness not assessed" in promotion, promotion
    metrics = json.loads((project / "reports" / "metrics.json").read_text("utf-8"))
    metric, floor = QUALITY_FLOOR[dataset.task]
    assert metrics[metric] > floor, metrics

    classes = json.loads(
        run(
            ["uv", "run", "--no-sync", "python", "-c",
             f"import json; from {package}.data.contract import CONTRACT; "
             "print(json.dumps(sorted(CONTRACT.class_meanings)))"],
            project, env,
        ).stdout
    )  # fmt: skip
    row = example_applicant(project, package, env)
    with api_server(cli, project, env, tmp_path / "api.log") as base:
        status, body = http("POST", f"{base}/predict", row)
        assert status == 200, body
        answer = json.loads(body)
        if dataset.task == "regression":
            assert isinstance(answer["prediction"], float), body
        else:
            assert answer["decision"] in classes, (body, classes)

    drifted = "data/processed/current.parquet"  # ingest's drifted batch, drawn from the contract
    monitor = run(
        ["uv", "run", "--no-sync", cli, "monitor", "--current", drifted], project, env, check=False
    )
    assert monitor.returncode == DRIFT_EXIT_CODE, (
        f"monitor exited {monitor.returncode}, expected {DRIFT_EXIT_CODE} (drift)\n"
        f"{monitor.stdout[-3000:]}\n{monitor.stderr[-3000:]}"
    )

    run(["make", "repro"], project, env)
    dvc_status = run(["uv", "run", "--no-sync", "dvc", "status"], project, env)
    assert "up to date" in dvc_status.stdout, dvc_status.stdout

    # The simulation passed on all three (wine 99.8 s, diabetes 75.1 s, 2026-12-03); the CI
    # budget keeps one.
    if dataset is BREAST_CANCER:
        timed(["make", "simulate"], project, env, record_property, "make simulate")
    timed(["make", "test"], project, env, record_property, f"{dataset.name}: make test")
