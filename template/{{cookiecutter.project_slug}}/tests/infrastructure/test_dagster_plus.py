"""ML Test Score, infrastructure: the code location deploys to Dagster+, its agent running
the code server and the runs on the cloud's Kubernetes (deploy/<cloud>/terraform/dagster.tf,
`make flow-deploy`), checked where no Dagster+ organization or cluster is at hand: `make
flow-deploy` runs as a user types it, with Terraform's output as a sample whose keys are
read from dagster.tf and the real `dagster-cloud` CLI talking to a stand-in for Dagster+'s
API; then the run's Kubernetes Job is built from the location it sent, by dagster-k8s, as
the agent builds it."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import orchestration.dagster.plus as plus
import pytest
import yaml
from dagster_k8s.container_context import K8sContainerContext
from dagster_k8s.job import DagsterK8sJobConfig, construct_dagster_k8s_job
from kubernetes.client import ApiClient  # type: ignore[import-untyped]

from {{ cookiecutter.project_slug }}.config import ENV_PREFIX

from ..conftest import PROJECT_ROOT, kustomized, local_server, run_make, terraform_outputs

pytestmark = pytest.mark.infrastructure
(TERRAFORM,) = PROJECT_ROOT.glob("deploy/*/terraform/dagster.tf")  # the chosen cloud's
K8S = PROJECT_ROOT / "orchestration/dagster/k8s"
LOCATION = PROJECT_ROOT / "orchestration/dagster/dagster_cloud.yaml"
IMAGE = "registry.example.com/demo@sha256:" + "0" * 64
NAMESPACE = "{{ cookiecutter.project_slug | replace('_', '-') }}-dagster"


def bucket_env(url: str) -> dict[str, str]:
    return {
        "INFERENCE_LOG__URL": f"{url}/inference",
        "SCORE__INPUT": url + "/batches/{date}.parquet",
        "SCORE__OUTPUT": url + "/scores/{date}.parquet",
    }


# What `terraform output -raw dagster_on_<cluster>` prints on each cloud, with made-up names.
SAMPLES: dict[str, dict[str, Any]] = {
    "dagster_on_eks": {
        "namespace": NAMESPACE,
        "service_account_name": "dagster-steps",
        "env": bucket_env("s3://demo-artifacts"),
    },
    "dagster_on_gke": {
        "namespace": NAMESPACE,
        "service_account_name": "dagster-steps",
        "env": bucket_env("gs://demo-artifacts"),
    },
    "dagster_on_aks": {
        "namespace": NAMESPACE,
        "service_account_name": "dagster-steps",
        "labels": {"azure.workload.identity/use": "true"},
        "env": bucket_env("az://artifacts"),
    },
}
(OUTPUT,) = re.findall(r'^output "(dagster_on_\w+)"', TERRAFORM.read_text("utf-8"), re.M)
CLOUD = SAMPLES[OUTPUT]


def output_block() -> str:
    """The text of dagster.tf's output."""
    text = TERRAFORM.read_text(encoding="utf-8")
    block = re.search('output "' + OUTPUT + r'" \{\n(.*?)\n\}', text, re.S)
    assert block, f"{TERRAFORM} has no output {OUTPUT}"
    return block.group(1)


def test_the_sample_is_what_terraform_outputs() -> None:
    """Every key of the sample is one dagster.tf encodes, and no other; its labels are
    Terraform's."""
    block = output_block()
    keys = set(re.findall(r"^\s+(\w+)\s+=", block, re.M)) - {"description", "value"}
    assert keys == {*CLOUD, *CLOUD["env"]}
    for name, value in CLOUD.get("labels", {}).items():
        assert f'"{name}" = "{value}"' in block


def test_terraform_names_what_make_flow_namespace_makes() -> None:
    """The runs' identity is given to the service account, in the namespace, that
    orchestration/dagster/k8s makes, with the volume dagster_cloud.yaml mounts."""
    text = TERRAFORM.read_text(encoding="utf-8")
    pattern = r'^\s+(dagster_namespace|dagster_steps_sa)\s+=\s+"([^"]+)"'
    names = dict(re.findall(pattern, text, re.M))
    assert names == {
        "dagster_namespace": CLOUD["namespace"],
        "dagster_steps_sa": CLOUD["service_account_name"],
    }
    namespace, made = kustomized(K8S)
    assert namespace == CLOUD["namespace"]
    assert ("Namespace", CLOUD["namespace"]) in made
    assert ("ServiceAccount", CLOUD["service_account_name"]) in made
    location = yaml.safe_load(LOCATION.read_text(encoding="utf-8"))["locations"][0]
    for volume in location["container_context"]["k8s"]["volumes"]:
        claim = made["PersistentVolumeClaim", volume["persistentVolumeClaim"]["claimName"]]
        assert claim["spec"]["accessModes"] == ["ReadWriteMany"]


class DagsterPlus(BaseHTTPRequestHandler):
    """Dagster+'s GraphQL API as `dagster-cloud deployment add-location` uses it: the location
    document is recorded; the agent is running and the location loads."""

    documents: list[dict[str, Any]]

    def do_POST(self) -> None:
        request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        query = request["query"]
        name = "{{ cookiecutter.project_slug }}"
        if "addOrUpdateLocationFromDocument" in query:
            self.documents.append(request["variables"]["document"])
            entry = {"__typename": "WorkspaceEntry", "locationName": name}
            data: dict[str, Any] = {"addOrUpdateLocationFromDocument": entry}
        elif "agents" in query:
            data = {"agents": [{"status": "RUNNING", "errors": []}]}
        elif "workspaceOrError" in query:
            loaded = {
                "__typename": "WorkspaceLocationEntry",
                "name": name,
                "loadStatus": "LOADED",
                "locationOrLoadError": {"__typename": "RepositoryLocation"},
            }
            workspace = {"__typename": "Workspace", "locationEntries": [loaded]}
            data = {"workspaceOrError": workspace}
        else:
            self.send_error(400, f"unexpected query: {query[:80]}")
            return
        body = json.dumps({"data": data}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def dagster_plus() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """The stand-in's URL, and the location documents it received."""
    documents: list[dict[str, Any]] = []
    handler = type("Recording", (DagsterPlus,), {"documents": documents})
    with local_server(handler) as url:
        yield url, documents


@pytest.fixture
def deploy_env(tmp_path: Path, dagster_plus: tuple[str, list[dict[str, Any]]]) -> dict[str, str]:
    """The environment of a `make flow-deploy`: Terraform's output, Dagster+'s URL and token."""
    bin_dir = terraform_outputs(tmp_path / "bin", {OUTPUT: json.dumps(CLOUD)})
    return {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "DAGSTER_CLOUD_URL": dagster_plus[0],
        "DAGSTER_CLOUD_API_TOKEN": "user:test-token",
        "DAGSTER_DISABLE_TELEMETRY": "true",
    }


def run_job(location: dict[str, Any]) -> dict[str, Any]:
    """The Kubernetes Job of a run, as the agent's launcher builds it from the location."""
    context = K8sContainerContext.create_from_config(location["container_context"])
    job = construct_dagster_k8s_job(
        DagsterK8sJobConfig(
            job_image=location["image"],
            dagster_home="/opt/dagster/dagster_home",
            instance_config_map="dagster-instance",
        ),
        ["dagster", "api", "execute_run", "{}"],
        "dagster-run-test",
        user_defined_k8s_config=context.run_k8s_config,
    )
    manifest: dict[str, Any] = ApiClient().sanitize_for_serialization(job)
    return {"namespace": context.namespace, **manifest}


def test_make_flow_deploy_sends_the_location_whose_runs_are_pods_as_terraform_says(
    deploy_env: dict[str, str],
    dagster_plus: tuple[str, list[dict[str, Any]]],
    tmp_path: Path,
) -> None:
    """Dagster+ gets the location with the image by digest and dagster_cloud.yaml's code;
    each run is a pod of that image in Terraform's namespace, as its service account with
    its labels, on the workspace volume, with the bucket's URLs and the raw data on the
    volume, dagster_cloud.yaml's Secrets, and Dagster's command run past the image's
    entrypoint."""
    location_file = tmp_path / "dagster_cloud.yaml"
    run_make(
        "flow-deploy", f"TRAINING_IMAGE={IMAGE}", f"DAGSTER_LOCATION_FILE={location_file}",
        env=deploy_env,
    )  # fmt: skip
    (sent,) = dagster_plus[1]
    assert sent["location_name"] == "{{ cookiecutter.project_slug }}"
    assert sent["image"] == IMAGE
    assert (PROJECT_ROOT / sent["code_source"]["python_file"]).is_file()
    assert sent["working_directory"] == "/app"  # where the Dockerfile's training target puts it
    # The CLI adds the commit it finds (`git`, empty here) to what the location file says.
    written = yaml.safe_load(location_file.read_text(encoding="utf-8"))["locations"]
    assert written == [{key: value for key, value in sent.items() if key != "git"}]

    job = run_job(sent)
    assert job["namespace"] == CLOUD["namespace"]
    pod = job["spec"]["template"]
    spec = pod["spec"]
    assert spec["serviceAccountName"] == CLOUD["service_account_name"]
    assert pod["metadata"]["labels"].items() >= CLOUD.get("labels", {}).items()
    (container,) = spec["containers"]
    assert container["image"] == IMAGE
    assert container["command"] == ["env"]
    assert container["args"][:3] == ["dagster", "api", "execute_run"]
    env = {item["name"]: item.get("value") for item in container["env"]}
    expected = {f"{ENV_PREFIX}{name}": value for name, value in CLOUD["env"].items()}
    assert env.items() >= expected.items()
    assert env[f"{ENV_PREFIX}DATA__RAW_PATH"].startswith("/workspace/")
    (mount,) = container["volumeMounts"]
    assert mount["mountPath"] == "/workspace"
    (volume,) = spec["volumes"]
    assert volume["name"] == mount["name"]
    secrets = [source["secretRef"]["name"] for source in container.get("envFrom", [])]
    declared = yaml.safe_load(LOCATION.read_text(encoding="utf-8"))["locations"][0]
    assert secrets == declared["container_context"]["k8s"].get("env_secrets", [])
    if not secrets:  # a tracker without a server: one registry on the volume
        assert env[f"{ENV_PREFIX}TRACKING__URI"].startswith("/workspace/")


def test_make_flow_deploy_refuses_an_image_not_pinned_by_digest(
    deploy_env: dict[str, str],
    dagster_plus: tuple[str, list[dict[str, Any]]],
    tmp_path: Path,
) -> None:
    """A tag is refused in one line; nothing is written or sent."""
    tagged = IMAGE.split("@", 1)[0] + ":latest"
    location_file = tmp_path / "dagster_cloud.yaml"
    deploy = run_make(
        "flow-deploy", f"TRAINING_IMAGE={tagged}", f"DAGSTER_LOCATION_FILE={location_file}",
        env=deploy_env, succeed=False,
    )  # fmt: skip
    assert deploy.returncode != 0
    assert f"--image must be pinned by digest (REPOSITORY@sha256:...), not '{tagged}'" in (
        deploy.stderr
    )
    assert "Traceback" not in deploy.stderr
    assert not location_file.exists()
    assert dagster_plus[1] == []


def test_a_container_context_the_agent_cannot_read_is_refused_in_one_line(tmp_path: Path) -> None:
    """What the agent would refuse only when a run starts is refused before anything is
    written or sent: here Terraform's namespace is not a string."""
    cloud = tmp_path / "cloud.json"
    cloud.write_text(json.dumps({**CLOUD, "namespace": 42}), encoding="utf-8")
    location_file = tmp_path / "dagster_cloud.yaml"
    with pytest.raises(SystemExit) as refused:
        plus.main([str(location_file), "--image", IMAGE, "--cloud", str(cloud)])
    message = str(refused.value)
    assert message.startswith("the container context is not one the agent reads: "), message
    assert "namespace" in message
    assert "\n" not in message
    assert not location_file.exists()
