"""Deep tier: the cloud training targets really train.

`make gcp-train` (Vertex AI custom job) and `make azure-train` (Azure ML command job) run
for real in a rendered project, against stand-ins for the cloud CLIs (terraform, docker,
gcloud, az) on PATH. The stand-ins do what the cloud would: they keep uploads in a local
directory that plays the bucket (container), and they run the submitted job the way the
service runs it, from the job specification the target wrote: the training image's command
(`<cli> pipeline`, its ENTRYPOINT and CMD) in a fresh working directory, with the job's
environment, its storage paths mapped onto that directory, and the environment the
Dockerfile's `training` target installs (`uv sync --no-dev --group pipeline`). So the test
fails when the target, its job specification or the settings it passes are wrong: the
pipeline must read the uploaded data and leave a champion and its reports in the bucket.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
import tomllib
from pathlib import Path
from typing import TypedDict

import pytest

from support import cloud_cli_stand_in
from support.deep import project_env, require_interpreter, run
from support.rendering import defaults, render_copier
from support.reporting import RecordProperty

pytestmark = pytest.mark.deep


class CloudTraining(TypedDict):
    target: str  # the make target
    outputs: dict[str, str]  # what `terraform output -raw <name>` prints
    results: str  # where the job leaves its outputs, inside the stand-in storage (a glob)


CLOUDS: dict[str, CloudTraining] = {
    "gcp": {
        "target": "gcp-train",
        "outputs": {
            "project_id": "demo-project",
            "region": "europe-west1",
            "image_repository": "europe-west1-docker.pkg.dev/demo-project/demo/demo",
            "bucket": "demo-project-demo-artifacts",
            "trainer_service_account": "demo-trainer@demo-project.iam.gserviceaccount.com",
        },
        # Where the job leaves its outputs, inside the stand-in storage.
        "results": "demo-project-demo-artifacts/training/*",
    },
    "azure": {
        "target": "azure-train",
        "outputs": {
            "image_repository": "crdemo.azurecr.io/demo",
            "registry": "crdemo",
            "storage_account": "stdemo",
            "resource_group": "rg-demo",
            "ml_workspace": "mlw-demo",
        },
        "results": "stdemo/artifacts/training/*",
    },
}

# The stand-ins: one Python program (a module of tests/support, linted and type-checked like
# the rest) copied once per CLI. Each logs its arguments (one JSON line per call) and emulates
# the calls the training targets make; any other call fails loudly.
STAND_IN = Path(cloud_cli_stand_in.__file__)


def stand_ins(directory: Path) -> Path:
    directory.mkdir()
    for tool in ("terraform", "docker", "gcloud", "az"):
        path = directory / tool
        path.write_text(f"#!{sys.executable}\n{STAND_IN.read_text('utf-8')}", encoding="utf-8")
        path.chmod(0o755)
    return directory


@pytest.mark.parametrize("cloud", sorted(CLOUDS))
def test_cloud_training_target_trains_from_the_bucket(
    cloud: str, copier_source: Path, tmp_path: Path, record_property: RecordProperty
) -> None:
    spec = CLOUDS[cloud]
    answers = {**defaults(), "cloud": cloud, "tracker": "none", "ci": "github"}
    project = render_copier(copier_source, answers, tmp_path / f"project-{cloud}")
    scripts = tomllib.loads((project / "pyproject.toml").read_text("utf-8"))["project"]["scripts"]
    ((cli, entry_point),) = scripts.items()
    env = project_env(project)
    require_interpreter(answers["python_version"], project, env)
    start = time.perf_counter()
    # What the Dockerfile's training target installs.
    run(["uv", "sync", "--no-dev", "--group", "pipeline"], project, env)

    storage = tmp_path / "storage"
    log = tmp_path / "calls.jsonl"
    env.update(
        PATH=f"{stand_ins(tmp_path / 'bin')}{os.pathsep}{env['PATH']}",
        STAND_IN_LOG=str(log),
        STAND_IN_STORAGE=str(storage),
        STAND_IN_PROJECT=str(project),
        STAND_IN_CLI=cli,
        STAND_IN_ENV_PREFIX=entry_point.split(".")[0].upper() + "_",
        STAND_IN_OUTPUTS=json.dumps(spec["outputs"]),
        STAND_IN_IMAGE_REPOSITORY=spec["outputs"]["image_repository"],
        STAND_IN_WORKDIR=str(tmp_path / "job-workdir"),
    )
    run(["make", spec["target"]], project, env)
    record_property("wall_time", f"make {spec['target']}: {time.perf_counter() - start:.1f} s")

    calls = [json.loads(line) for line in log.read_text("utf-8").splitlines()]
    built = [c for c in calls if c[:2] == ["docker", "build"]]
    pushed = [c for c in calls if c[:2] == ["docker", "push"]]
    assert len(built) == 1, built
    assert built[0][built[0].index("--target") + 1] == "training", built
    # The job runs the very image the target built and pushed.
    image = built[0][built[0].index("-t") + 1]
    assert pushed == [["docker", "push", image]], pushed

    (results,) = sorted(storage.glob(spec["results"]))
    assert (results / "raw" / "german_credit.csv").is_file(), "the raw data was not uploaded"
    champion = results / "models" / "champion" / "metadata.json"
    left = sorted(p.relative_to(results).as_posix() for p in results.rglob("*"))
    assert champion.is_file(), f"the job left no champion in the bucket, only {left}"
    assert json.loads((results / "reports" / "promotion.json").read_text("utf-8"))
    assert not (project / "models").exists(), "the job wrote into the project, not the bucket"
    shutil.rmtree(tmp_path / "job-workdir", ignore_errors=True)
