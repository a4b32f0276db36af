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

import pytest

from rendering import defaults, render_copier
from test_deep import project_env, require_interpreter, run

pytestmark = pytest.mark.deep

CLOUDS = {
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

# The stand-ins: one Python script per CLI. Each logs its arguments (one JSON line per call)
# and emulates the calls the training targets make; any other call fails loudly.
STAND_IN = r'''
import json, os, re, shlex, shutil, subprocess, sys
from pathlib import Path

import yaml

tool, args = Path(sys.argv[0]).name, sys.argv[1:]
with open(os.environ["STAND_IN_LOG"], "a", encoding="utf-8") as log:
    log.write(json.dumps([tool, *args]) + "\n")
storage = Path(os.environ["STAND_IN_STORAGE"])
project = Path(os.environ["STAND_IN_PROJECT"])
cli = os.environ["STAND_IN_CLI"]
prefix = os.environ["STAND_IN_ENV_PREFIX"]


def option(name):
    for i, arg in enumerate(args):
        if arg == name:
            return args[i + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    sys.exit(f"{tool}: {name} missing in {args}")


def run_job(command, env, image):
    """Run a job as the training image would: its command, a fresh working directory, the
    image's params.yaml, the environment `docker build --target training` installs."""
    assert image.startswith(os.environ["STAND_IN_IMAGE_REPOSITORY"] + ":"), image
    workdir = Path(os.environ["STAND_IN_WORKDIR"])
    workdir.mkdir(parents=True, exist_ok=True)
    job_env = {**os.environ, **env, f"{prefix}PARAMS": str(project / "params.yaml")}
    job_env.pop("VIRTUAL_ENV", None)
    job_env["PATH"] = str(project / ".venv" / "bin") + os.pathsep + job_env["PATH"]
    return subprocess.run(command, cwd=workdir, env=job_env, check=False).returncode


if tool == "terraform":
    assert args[0].startswith("-chdir=deploy/") and args[1:3] == ["output", "-raw"], args
    print(json.loads(os.environ["STAND_IN_OUTPUTS"])[args[3]], end="")
elif tool == "docker":
    assert args[0] in {"build", "push"}, args
elif tool == "gcloud" and args[:2] == ["auth", "configure-docker"]:
    pass
elif tool == "gcloud" and args[:2] == ["storage", "cp"]:
    target = storage / args[3].removeprefix("gs://")
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(args[2], target)
elif tool == "gcloud" and args[:3] == ["ai", "custom-jobs", "create"]:
    spec = yaml.safe_load(Path(option("--config")).read_text(encoding="utf-8"))
    outputs = json.loads(os.environ["STAND_IN_OUTPUTS"])
    assert spec["serviceAccount"] == outputs["trainer_service_account"], spec
    (pool,) = spec["workerPoolSpecs"]
    container = pool["containerSpec"]
    # Vertex AI mounts every bucket of the project at /gcs/<bucket> (Cloud Storage FUSE).
    env = {e["name"]: re.sub("^/gcs/", f"{storage}/", e["value"]) for e in container["env"]}
    command = container.get("command", [cli]) + container.get("args", ["pipeline"])
    code = run_job(command, env, container["imageUri"])
    Path(os.environ["STAND_IN_WORKDIR"] + ".state").write_text(
        "JOB_STATE_SUCCEEDED" if code == 0 else "JOB_STATE_FAILED")
    print("projects/1/locations/" + option("--region") + "/customJobs/1")
elif tool == "gcloud" and args[:3] == ["ai", "custom-jobs", "stream-logs"]:
    pass
elif tool == "gcloud" and args[:3] == ["ai", "custom-jobs", "describe"]:
    print(Path(os.environ["STAND_IN_WORKDIR"] + ".state").read_text())
elif tool == "az" and args[:2] == ["acr", "login"]:
    pass
elif tool == "az" and args[:3] == ["storage", "blob", "upload"]:
    target = storage / option("--account-name") / option("--container-name") / option("--name")
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(option("--file"), target)
elif tool == "az" and args[:3] == ["ml", "job", "create"]:
    job = yaml.safe_load(Path(option("--file")).read_text(encoding="utf-8"))
    for i, arg in enumerate(args):
        if arg == "--set":
            key, value = args[i + 1].split("=", 1)
            *parents, last = key.split(".")
            node = job
            for part in parents:
                node = node.setdefault(part, {})
            node[last] = value
    assert job["type"] == "command" and job["identity"] == {"type": "managed"}, job
    assert job["compute"] == "azureml:training", job["compute"]

    account = json.loads(os.environ["STAND_IN_OUTPUTS"])["storage_account"]

    def mounted(url):  # a datastore folder, as Azure ML mounts it for the job
        match = re.fullmatch(r"azureml://datastores/artifacts/paths/(.+)", url)
        assert match, url
        path = storage / account / "artifacts" / match[1]
        path.mkdir(parents=True, exist_ok=True)
        return str(path)

    command = job["command"]
    for kind in ("inputs", "outputs"):
        for name, spec in job.get(kind, {}).items():
            command = command.replace("${{" + f"{kind}.{name}" + "}}", mounted(spec["path"]))
    variables = job.get("environment_variables", {})
    sys.exit(run_job(["sh", "-c", command], variables, job["environment"]["image"]))
else:
    sys.exit(f"stand-in {tool}: unexpected call {args}")
'''


def stand_ins(directory: Path) -> Path:
    directory.mkdir()
    for tool in ("terraform", "docker", "gcloud", "az"):
        path = directory / tool
        path.write_text(f"#!{sys.executable}\n{STAND_IN}", encoding="utf-8")
        path.chmod(0o755)
    return directory


@pytest.mark.parametrize("cloud", sorted(CLOUDS))
def test_cloud_training_target_trains_from_the_bucket(
    cloud: str, copier_source: Path, tmp_path: Path, record_property: pytest.RecordProperty
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
