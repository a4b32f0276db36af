"""ML Test Score, infrastructure: Kubeflow's pipelines are scheduled on Vertex AI Pipelines
(deploy/gcp/terraform/kubeflow.tf, `make flow-deploy`), checked where no Google Cloud project
is at hand: `make flow-deploy` runs as a user types it, Terraform's outputs are samples whose
keys are read from kubeflow.tf, and Vertex AI's schedule service is a fake in place of the
SDK's client: it receives what the SDK would send, each schedule with its pipeline job."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from orchestration.kubeflow.vertex import read_settings, vertex_cron

from {{ cookiecutter.project_slug }}.config import ENV_PREFIX, TrackingSettings
from {{ cookiecutter.project_slug }}.tracking import get_tracker

from ..conftest import PROJECT_ROOT, run_make, terraform_outputs
from .kubeflow_terraform import assert_raw_data_in_workspace, output_keys

pytestmark = pytest.mark.infrastructure
TERRAFORM = PROJECT_ROOT / "deploy/gcp/terraform/kubeflow.tf"
CONFIG = yaml.safe_load((PROJECT_ROOT / "orchestration/kubeflow/kubeflow.yaml").read_text())
IMAGE = "europe-west1-docker.pkg.dev/demo-project/demo/demo@sha256:" + "0" * 64
WORKSPACE = "/gcs/demo-bucket/kubeflow/"

# What `terraform output -raw vertex_pipelines` and `vertex_pipeline_env` print, made up.
SETTINGS = {
    "project": "demo-project",
    "location": "europe-west1",
    "service_account": "demo-pipelines@demo-project.iam.gserviceaccount.com",
    "pipeline_root": "gs://demo-bucket/kubeflow/pipeline-root",
}
ENVIRONMENT = {
    f"{ENV_PREFIX}DATA__RAW_PATH": f"{WORKSPACE}data/raw/demo.csv",
    f"{ENV_PREFIX}MODELS_DIR": f"{WORKSPACE}models",
    f"{ENV_PREFIX}REPORTS_DIR": f"{WORKSPACE}reports",
    f"{ENV_PREFIX}DATA__PROCESSED_DIR": f"{WORKSPACE}data/processed",
    f"{ENV_PREFIX}MONITOR__REPORTS_DIR": f"{WORKSPACE}reports/monitoring",
    f"{ENV_PREFIX}SERVE__MODEL_DIR": f"{WORKSPACE}models/champion",
    f"{ENV_PREFIX}INFERENCE_LOG__URL": "gs://demo-bucket/inference",
    f"{ENV_PREFIX}SCORE__INPUT": "gs://demo-bucket/batches/{date}.parquet",
    f"{ENV_PREFIX}SCORE__OUTPUT": "gs://demo-bucket/scores/{date}.parquet",
    "DO_NOT_TRACK": "true",
}
# A tracker whose store is a directory every run mounts (its TRACKING__URI; not a server)
# keeps it in the workspace too, so that components and runs share one registry.
if f"{ENV_PREFIX}TRACKING__URI" in get_tracker(TrackingSettings()).shared_store_setup():
    ENVIRONMENT[f"{ENV_PREFIX}TRACKING__URI"] = f"{WORKSPACE}registry"

# Vertex AI's schedule service, in place of the SDK's client (the `sitecustomize` of the
# processes `make flow-deploy` starts): schedules kept in a JSON file, as the API keeps them.
FAKE_SCHEDULE_SERVICE = """
import json, os, re, uuid
from pathlib import Path
from google.cloud.aiplatform_v1.services.schedule_service import ScheduleServiceClient
from google.cloud.aiplatform_v1.types import Schedule

STATE = Path(os.environ["FAKE_VERTEX_SCHEDULES"])

def load():
    return json.loads(STATE.read_text()) if STATE.exists() else {}

def save(schedules):
    STATE.write_text(json.dumps(schedules))

def create_schedule(self, parent, schedule, timeout=None, **_):
    schedule.name = f"{parent}/schedules/{uuid.uuid4().hex}"
    save({**load(), schedule.name: json.loads(Schedule.to_json(schedule))})
    return schedule

def get_schedule(self, name, **_):
    return Schedule.from_json(json.dumps(load()[name]))

def list_schedules(self, request, **_):
    wanted = re.fullmatch(r'display_name="(.*)"', request["filter"]).group(1)
    found = [s for s in load().values() if s["displayName"] == wanted]
    return [Schedule.from_json(json.dumps(s)) for s in found]

def delete_schedule(self, name, **_):
    schedules = load()
    del schedules[name]
    save(schedules)

ScheduleServiceClient.create_schedule = create_schedule
ScheduleServiceClient.get_schedule = get_schedule
ScheduleServiceClient.list_schedules = list_schedules
ScheduleServiceClient.delete_schedule = delete_schedule
"""


def test_the_samples_are_what_terraform_outputs() -> None:
    assert output_keys(TERRAFORM, "vertex_pipelines") == set(SETTINGS)
    assert output_keys(TERRAFORM, "vertex_pipeline_env") == set(ENVIRONMENT)


def test_the_raw_data_is_read_where_params_yaml_says() -> None:
    """Terraform gives the ingest component params.yaml's data.raw_path in the workspace."""
    assert_raw_data_in_workspace(TERRAFORM, "vertex_pipeline_env")


def test_vertex_schedules_by_the_minute_in_utc() -> None:
    assert vertex_cron("0 23 4 * * 1") == "TZ=UTC 23 4 * * 1"
    with pytest.raises(ValueError, match="Vertex AI schedules whole minutes"):
        vertex_cron("30 23 4 * * 1")


def test_the_settings_are_refused_unless_complete() -> None:
    with pytest.raises(ValueError, match="must be a JSON object of project, location"):
        read_settings(json.dumps({**SETTINGS, "region": "europe-west1"}))
    with pytest.raises(ValueError, match="every setting must be a non-empty string"):
        read_settings(json.dumps({**SETTINGS, "service_account": ""}))


@pytest.fixture
def fake_vertex(tmp_path: Path) -> dict[str, str]:
    """The environment of a `make flow-deploy` against the fake schedule service, with the
    application default credentials `gcloud auth application-default login` leaves."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(FAKE_SCHEDULE_SERVICE)
    credentials = tmp_path / "application_default_credentials.json"
    credentials.write_text(
        json.dumps(
            {"type": "authorized_user", "client_id": "demo", "client_secret": "demo"}
            | {"refresh_token": "demo", "quota_project_id": SETTINGS["project"]}
        )
    )
    outputs = {"vertex_pipelines": SETTINGS, "vertex_pipeline_env": ENVIRONMENT}
    bin_dir = terraform_outputs(
        tmp_path / "bin", {name: json.dumps(value) for name, value in outputs.items()}
    )
    return {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": str(site),
        "FAKE_VERTEX_SCHEDULES": str(tmp_path / "schedules.json"),
        "GOOGLE_APPLICATION_CREDENTIALS": str(credentials),
    }


def make_flow_deploy(env: dict[str, str]) -> str:
    return run_make("flow-deploy", f"TRAINING_IMAGE={IMAGE}", env=env).stdout


def test_make_flow_deploy_schedules_every_pipeline_as_terraform_says(
    fake_vertex: dict[str, str],
) -> None:
    make_flow_deploy(fake_vertex)
    output = make_flow_deploy(fake_vertex)  # again: the earlier schedules are replaced
    schedules: dict[str, Any] = json.loads(Path(fake_vertex["FAKE_VERTEX_SCHEDULES"]).read_text())
    names = ("training", "monitoring", "batch_scoring")
    crons = {
        f"{CONFIG['experiment']}-{name}": vertex_cron(CONFIG[f"{name}_cron"]) for name in names
    }
    assert sorted(s["displayName"] for s in schedules.values()) == sorted(crons)
    for name, cron in crons.items():
        assert f"scheduled {name}: {cron}" in output
    for schedule in schedules.values():
        assert schedule["cron"] == crons[schedule["displayName"]]
        assert schedule["maxConcurrentRunCount"] == "1"
        job = schedule["createPipelineJobRequest"]["pipelineJob"]
        assert job["serviceAccount"] == SETTINGS["service_account"]
        assert job["runtimeConfig"]["gcsOutputDirectory"] == SETTINGS["pipeline_root"]
        executors = job["pipelineSpec"]["deploymentSpec"]["executors"].values()
        assert executors
        for executor in executors:
            container = executor["container"]
            assert container["image"] == IMAGE
            env = {variable["name"]: variable["value"] for variable in container["env"]}
            assert env == ENVIRONMENT
