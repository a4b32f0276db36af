"""Flyte on EKS, GKE and AKS as a user installs it (orchestration/flyte/README.md, "On AWS",
"On Google Cloud", "On Azure"): the render's `make flyte-install` and `make flow-deploy` run
as typed, their tools stood in where they would reach the cloud or a cluster: `terraform
output` prints flyte.tf's Helm values filled in as `templatefile` fills them, `aws`,
`gcloud` or `az` prints a sample password, `kubectl apply` keeps what it is given,
`kubectl port-forward` answers Flyte's health check, `uv run pyflyte` records how it was
called, and `helm upgrade --install` becomes `helm template` of Flyte's own chart
(support/charts/flyte-binary, the version the target pins). What comes out must be valid
Kubernetes objects, the cluster resource templates Flyte applies in each project-domain
namespace too, and agree with the rest of the render.
"""

from __future__ import annotations

import base64
import functools
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from support.cloud_checks import kubernetes_validate
from support.hcl import Terraform, parsed, plain
from support.project_files import BIN
from support.rendering import render_copier

CHART = Path(__file__).parents[1] / "support" / "charts" / "flyte-binary"
PASSWORD = "Sample0Password1OfForty2CharactersAlnum3"  # no punctuation, as they generate it
# Client IDs of the managed identities of Flyte's tasks on AKS, one per domain.
AKS_TASK_CLIENT_IDS = {
    domain: f"00000000-0000-0000-0000-00000000000{digit}"
    for digit, domain in enumerate(("development", "staging", "production"), start=1)
}


@dataclass(frozen=True)
class Cloud:
    """What a cloud's render is checked with."""

    terraform: str  # its Terraform root
    secret: str  # the output flyte_database_secret: where the password is kept
    object_store: str  # Flyte's storage kind for the cloud's buckets (stow's)
    scheme: str  # their URLs' scheme
    # Stand-ins for what exists once Terraform applied: the expressions flyte.tf passes to
    # templatefile (or that its locals name), by their text.
    applied: dict[str, str]


CLOUDS = {
    "aws": Cloud(
        terraform="deploy/aws/terraform",
        secret="arn:aws:secretsmanager:eu-west-1:123456789012:secret:sample-flyte-database",
        object_store="s3",
        scheme="s3",
        applied={
            "aws_db_instance.flyte[0].address": "sample-flyte.abc123.eu-west-1.rds.amazonaws.com",
            "aws_s3_bucket.flyte.bucket": "sample-flyte-20261206",
            "aws_s3_bucket.artifacts.bucket": "sample-artifacts-20261206",
            "local.region": "eu-west-1",
        },
    ),
    "gcp": Cloud(
        terraform="deploy/gcp/terraform",
        secret="sample-flyte-database",
        object_store="google",
        scheme="gs",
        applied={
            "google_sql_database_instance.flyte[0].connection_name": "sample:europe-west1:flyte",
            "google_service_account.flyte_backend[0].email": "flyte@sample.iam.gserviceaccount.com",
            "google_storage_bucket.flyte[0].name": "sample-flyte",
            "google_storage_bucket.artifacts.name": "sample-artifacts",
            "google_storage_managed_folder.batches.name": "batches/",
            "google_storage_managed_folder.scores.name": "scores/",
            'trimsuffix(google_storage_managed_folder.inference.name, "/")': "inference",
            "var.project_id": "sample",
        },
    ),
    "azure": Cloud(
        terraform="deploy/azure/terraform",
        secret="https://kv-sample.vault.azure.net/secrets/flyte-database-password",
        object_store="azure",
        scheme="abfs",
        applied={
            "azurerm_postgresql_flexible_server.flyte[0].fqdn": (
                "psql-sample-flyte.postgres.database.azure.com"
            ),
            "azurerm_user_assigned_identity.flyte_backend[0].client_id": (
                "00000000-0000-0000-0000-0000000000ff"
            ),
            "azurerm_storage_account.flyte[0].name": "stsampleflyte",
            "azurerm_storage_container.flyte[0].name": "flyte",
            "azurerm_storage_account.artifacts.name": "stsample",
            "azurerm_storage_container.artifacts.name": "artifacts",
            "jsonencode(local.flyte_domain_data)": json.dumps(
                {
                    domain: {"tasksClientId": {"value": client_id}}
                    for domain, client_id in AKS_TASK_CLIENT_IDS.items()
                }
            ),
        },
    ),
}
PLACEHOLDER = re.compile(r"(?<!\$)\$\{(\w+)\}")
INTERPOLATION = re.compile(r"\$\{([^}]+)\}")

# The stand-ins `make flyte-install` finds on PATH; {captured} is where they write.
STAND_INS = {
    "terraform": """
import sys
assert sys.argv[1].startswith("-chdir=") and sys.argv[2:4] == ["output", "-raw"], sys.argv
name = sys.argv[4]
secret = {secret!r} if name == "flyte_database_secret" else None
print(secret or open({captured!r} + "/flyte_helm_values").read(), end="")
""",
    "aws": """
import sys
expected = ["secretsmanager", "get-secret-value", "--secret-id", {secret!r}]
assert sys.argv[1:5] == expected, sys.argv
print({password!r})
""",
    "gcloud": """
import sys
assert sys.argv[1:] == ["secrets", "versions", "access", "latest", "--secret=" + {secret!r}]
print({password!r}, end="")  # as gcloud prints a secret: no newline
""",
    "az": """
import sys
expected = ["keyvault", "secret", "show", "--id", {secret!r}, "--query", "value"]
assert sys.argv[1:8] == expected and sys.argv[8:] == ["--output", "tsv"], sys.argv
print({password!r})
""",
    "kubectl": """
import http.server, json, os, sys
if "apply" in sys.argv:
    with open({captured!r} + "/applied.yaml", "a") as applied:
        applied.write("---\\n" + sys.stdin.read())
elif "port-forward" in sys.argv:  # Flyte's health check on the forwarded HTTP port
    json.dump(sys.argv[1:], open({captured!r} + "/port-forward.json", "w"))
    class Health(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200 if self.path == "/healthcheck" else 404)
            self.end_headers()
        def log_message(self, *_):
            pass
    http.server.HTTPServer(("127.0.0.1", 8088), Health).serve_forever()
else:
    os.execv({kubectl!r}, [{kubectl!r}, *sys.argv[1:]])
""",
    "uv": """
import json, os, sys
settings = {{name: os.environ.get(name) for name in ("PIPELINE_IMAGE", "FLYTE_PLATFORM_URL")}}
with open({captured!r} + "/uv.json", "w") as log:
    json.dump({{"arguments": sys.argv[1:], "environment": settings}}, log)
""",
    "helm": """
import json, os, sys
arguments = sys.argv[1:]
json.dump(arguments, open({captured!r} + "/helm.json", "w"))
assert arguments[:2] == ["upgrade", "--install"], arguments
release, _repository_chart, *rest = arguments[2:]
kept = []
while rest:
    option = rest.pop(0)
    if option in ("--repo", "--version", "--timeout"):
        rest.pop(0)
    elif option != "--wait":
        kept.append(option)
os.dup2(os.open({captured!r} + "/manifests.yaml", os.O_WRONLY | os.O_CREAT), 1)
os.execv({helm!r}, [{helm!r}, "template", release, {chart!r}, *kept])
""",
}


def evaluated(expression: str, local_values: dict[str, Any], applied: dict[str, str]) -> str:
    """An expression's value: a quoted string's interpolations, an applied stand-in, or a
    local value (itself evaluated)."""
    expression = expression.strip()

    def inner(match: re.Match[str]) -> str:
        return evaluated(match[1], local_values, applied)

    if expression.startswith('"'):
        return INTERPOLATION.sub(inner, expression[1:-1])
    if expression in applied:
        return applied[expression]
    return INTERPOLATION.sub(inner, str(local_values[expression.removeprefix("local.")]))


def kind(objects: list[dict[str, Any]], wanted: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == wanted]


def documents(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]


@dataclass
class Install:
    cloud: Cloud
    project: Path
    bin_dir: Path  # the stand-ins
    captured: Path  # what they kept
    placeholders: set[str]  # those of flyte-values.yaml.tftpl
    arguments: dict[str, str]  # those flyte.tf passes to templatefile, evaluated
    terraform: Terraform  # the render's root for the cloud
    helm: list[str]  # the arguments `make flyte-install` gave helm
    manifests: list[dict[str, Any]]  # what the chart renders
    applied: list[dict[str, Any]]  # what the target gave `kubectl apply`

    @functools.cached_property
    def config(self) -> dict[str, Any]:
        """Flyte's configuration files, by name."""
        return {
            name: yaml.safe_load(text)
            for config_map in kind(self.manifests, "ConfigMap")
            if not config_map["metadata"]["name"].endswith("cluster-resource-templates")
            for name, text in config_map["data"].items()
        }

    def association(self, name: str) -> dict[str, Any]:
        """A Pod Identity association of flyte.tf."""
        return self.terraform.resources["aws_eks_pod_identity_association", name]

    def cluster_resources(self, domain: str) -> list[dict[str, Any]]:
        """What Flyte's cluster resource manager applies in the project's namespace of
        `domain`, its variables filled in as it fills them: the namespace, and the
        domain's own data (cluster_resources.customData)."""
        (templates,) = [
            config_map["data"]
            for config_map in kind(self.manifests, "ConfigMap")
            if config_map["metadata"]["name"].endswith("cluster-resource-templates")
        ]
        inline = self.config["100-inline-config.yaml"]
        custom = inline.get("cluster_resources", {}).get("customData", {}).get(domain, {})
        variables = {
            "namespace": f"{self.arguments['project']}-{domain}",
            **{name: data["value"] for name, data in custom.items()},
        }
        resources = []
        for text in templates.values():
            for name, value in variables.items():
                text = text.replace(f"{{{{ {name} }}}}", value)
            assert "{{" not in text, text  # a variable Flyte would leave unfilled
            resources.append(yaml.safe_load(text))
        return resources


@pytest.fixture(scope="module", params=sorted(CLOUDS))
def install(
    request: pytest.FixtureRequest, copier_source: Path, tmp_path_factory: pytest.TempPathFactory
) -> Install:
    cloud = CLOUDS[request.param]
    root = tmp_path_factory.mktemp(f"flyte-{request.param}")
    answers = {"cloud": request.param, "orchestrator": "flyte"}
    project = render_copier(copier_source, answers, root / "p")
    root_dir = project / cloud.terraform
    terraform = Terraform(root_dir)
    flyte_tf = plain(parsed((root_dir / "flyte.tf").read_text(encoding="utf-8")))
    (output,) = [o["flyte_helm_values"] for o in flyte_tf["output"] if "flyte_helm_values" in o]
    call = re.search(r'templatefile\("\$\{path\.module\}/([\w./-]+)", \{(.*)\}\)', output["value"])
    assert call, output["value"]
    arguments = {
        name: evaluated(expression, terraform.locals, cloud.applied)
        for name, expression in re.findall(r'(\w+) = ("[^"]*"|[^,]+)', call[2])
    }
    template = (root_dir / call[1]).read_text(encoding="utf-8")
    placeholders = set(PLACEHOLDER.findall(template))
    values = PLACEHOLDER.sub(lambda m: arguments.get(m[1], ""), template).replace("$${", "${")

    captured, bin_dir = root / "captured", root / "bin"
    captured.mkdir()
    bin_dir.mkdir()
    (captured / "flyte_helm_values").write_text(values, encoding="utf-8")
    paths = {
        "captured": str(captured),
        "chart": str(CHART),
        "helm": str(BIN / "helm"),
        "kubectl": str(BIN / "kubectl"),
        "secret": cloud.secret,
        "password": PASSWORD,
    }
    for name, body in STAND_INS.items():
        (bin_dir / name).write_text(f"#!{sys.executable}\n{body.format(**paths)}", encoding="utf-8")
        (bin_dir / name).chmod(0o755)
    result = subprocess.run(
        ["make", "--no-print-directory", "flyte-install"],
        cwd=project, capture_output=True, text=True, check=False,
        env={**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"},
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    return Install(
        cloud=cloud,
        project=project,
        bin_dir=bin_dir,
        captured=captured,
        placeholders=placeholders,
        arguments=arguments,
        terraform=terraform,
        helm=json.loads((captured / "helm.json").read_text(encoding="utf-8")),
        manifests=documents(captured / "manifests.yaml"),
        applied=documents(captured / "applied.yaml"),
    )


def invalid(objects: list[dict[str, Any]], where: Path) -> str:
    """kubernetes-validate's report on the objects, as the cloud checks run it ('' when
    valid)."""
    where.write_text(yaml.safe_dump_all(objects), encoding="utf-8")
    return kubernetes_validate([where])


def test_terraform_fills_every_placeholder_of_the_values(install: Install) -> None:
    """templatefile fails the apply on a placeholder it is not given."""
    assert install.placeholders == set(install.arguments)


def test_the_target_installs_a_valid_chart_of_the_pinned_version(
    install: Install, tmp_path: Path
) -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text(encoding="utf-8"))
    assert install.helm[install.helm.index("--version") + 1] == chart["version"], install.helm
    (deployment,) = kind(install.manifests, "Deployment")
    flyte = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
    assert flyte.endswith(f":{chart['version']}"), flyte  # the chart's own default: latest
    problems = invalid(install.manifests, tmp_path / "chart.yaml")
    assert not problems, problems
    problems = invalid(install.cluster_resources("development"), tmp_path / "resources.yaml")
    assert not problems, problems


def seeded_where_flow_deploy_registers(install: Install) -> list[str]:
    """Flyte's seeded project, Terraform's, which `make flow-deploy` registers in."""
    seeded: list[str] = install.config["000-core.yaml"]["flyte"]["admin"]["seedProjects"]
    assert seeded == [install.terraform.locals["flyte_project"]], seeded
    flyte_mk = (install.project / "orchestration/flyte/flyte.mk").read_text(encoding="utf-8")
    registered = re.findall(r"register --project (\S+)", flyte_mk)
    assert registered == seeded, registered
    return seeded


@pytest.mark.parametrize("install", ["aws"], indirect=True)
def test_pod_identity_names_the_charts_service_account_and_the_tasks_namespaces(
    install: Install,
) -> None:
    backend = install.association("flyte_backend")
    (service_account,) = kind(install.manifests, "ServiceAccount")
    (deployment,) = kind(install.manifests, "Deployment")
    namespace = install.helm[install.helm.index("--namespace") + 1]
    assert install.terraform.value(backend["namespace"]) == namespace
    name = service_account["metadata"]["name"]
    assert install.terraform.value(backend["service_account"]) == name
    assert deployment["spec"]["template"]["spec"]["serviceAccountName"] == name
    # Tasks run as the `default` service account of `<project>-<domain>`; Flyte's seeded
    # project is Terraform's.
    tasks = install.association("flyte_tasks")
    assert install.terraform.value(tasks["service_account"]) == "default"
    assert tasks["namespace"] == "${local.flyte_project}-${each.key}", tasks
    seeded_where_flow_deploy_registers(install)


@pytest.mark.parametrize("install", ["gcp"], indirect=True)
def test_workload_identity_binds_the_charts_service_account_and_the_tasks_namespaces(
    install: Install,
) -> None:
    """The control plane signs in as the Google service account its Kubernetes service
    account is annotated with and bound to; each domain's tasks, as the principal of the
    `default` service account of `<project>-<domain>`."""
    (service_account,) = kind(install.manifests, "ServiceAccount")
    (deployment,) = kind(install.manifests, "Deployment")
    annotations = service_account["metadata"].get("annotations", {})
    google_account = install.arguments["backend_account"]
    assert annotations.get("iam.gke.io/gcp-service-account") == google_account, annotations
    name = service_account["metadata"]["name"]
    assert deployment["spec"]["template"]["spec"]["serviceAccountName"] == name
    namespace = install.helm[install.helm.index("--namespace") + 1]
    binding = install.terraform.resources["google_service_account_iam_member", "flyte_backend"]
    bound = "svc.id.goog[${local.flyte_namespace}/${local.flyte_name}]"
    assert bound in str(binding["for_each"]), binding["for_each"]
    assert install.terraform.locals["flyte_namespace"] == namespace
    assert install.terraform.locals["flyte_name"] == name
    tasks = str(install.terraform.locals["flyte_tasks"])
    assert "/ns/${local.flyte_project}-${domain}/sa/default" in tasks, tasks
    assert "for domain in local.flyte_domains" in tasks, tasks
    seeded_where_flow_deploy_registers(install)


@pytest.mark.parametrize("install", ["azure"], indirect=True)
def test_workload_id_federates_the_charts_service_account_and_each_domains_tasks(
    install: Install,
) -> None:
    """The control plane's pod asks Workload ID for the token of the managed identity its
    service account is annotated with, federated with that service account; each domain's
    task pods, for that of their own identity, on their namespace's `default` service
    account, which Flyte annotates with it."""
    (service_account,) = kind(install.manifests, "ServiceAccount")
    (deployment,) = kind(install.manifests, "Deployment")
    annotations = service_account["metadata"].get("annotations", {})
    client_id = install.arguments["backend_client_id"]
    assert annotations.get("azure.workload.identity/client-id") == client_id, annotations
    pod = deployment["spec"]["template"]
    assert pod["metadata"]["labels"].get("azure.workload.identity/use") == "true", pod["metadata"]
    name = service_account["metadata"]["name"]
    assert pod["spec"]["serviceAccountName"] == name
    namespace = install.helm[install.helm.index("--namespace") + 1]
    backend = install.terraform.resources["azurerm_federated_identity_credential", "flyte_backend"]
    assert (
        backend["subject"] == "system:serviceaccount:${local.flyte_namespace}:${local.flyte_name}"
    )
    assert install.terraform.locals["flyte_namespace"] == namespace
    assert install.terraform.locals["flyte_name"] == name
    tasks = install.terraform.resources["azurerm_federated_identity_credential", "flyte_tasks"]
    assert tasks["subject"] == "system:serviceaccount:${local.flyte_project}-${each.key}:default"
    identities = install.terraform.resources["azurerm_user_assigned_identity", "flyte_tasks"]
    assert "local.flyte_domains" in identities["for_each"], identities["for_each"]
    k8s = install.config["100-inline-config.yaml"]["plugins"]["k8s"]
    assert k8s["default-labels"].get("azure.workload.identity/use") == "true", k8s
    for domain, task_client_id in AKS_TASK_CLIENT_IDS.items():
        (default,) = [
            o for o in kind(install.cluster_resources(domain), "ServiceAccount")
            if o["metadata"]["name"] == "default"
        ]  # fmt: skip
        assert default["metadata"]["namespace"] == f"{install.arguments['project']}-{domain}"
        assert default["metadata"]["annotations"] == {
            "azure.workload.identity/client-id": task_client_id
        }
    seeded_where_flow_deploy_registers(install)


@pytest.mark.parametrize("install", ["azure"], indirect=True)
def test_flyte_and_its_tasks_reach_its_storage_account_with_entra_id(install: Install) -> None:
    """No account key anywhere: the control plane (stow) and the tasks (flytekit's adlfs)
    sign in through Workload ID, to the account Terraform made for Flyte."""
    account = install.arguments["storage_account"]
    stow = install.config["003-storage.yaml"]["storage"]["stow"]
    assert stow["config"]["account"] == account, stow
    assert "key" not in stow["config"], stow
    settings = install.config["100-inline-config.yaml"]["plugins"]["k8s"]["default-env-vars"]
    assert settings["FLYTE_AZURE_STORAGE_ACCOUNT_NAME"] == account
    assert not [name for name in settings if "KEY" in name or "SECRET" in name], settings


def test_the_database_password_reaches_flyte_through_its_secret_only(install: Install) -> None:
    (secret,) = kind(install.applied, "Secret")
    namespace = install.helm[install.helm.index("--namespace") + 1]
    assert secret["metadata"]["namespace"] == namespace
    (configuration_file,) = secret["data"].values()
    password = yaml.safe_load(base64.b64decode(configuration_file))
    assert password == {"database": {"postgres": {"password": PASSWORD}}}
    (deployment,) = kind(install.manifests, "Deployment")
    (config,) = [
        v for v in deployment["spec"]["template"]["spec"]["volumes"] if v["name"] == "config"
    ]
    read = [
        source["secret"]["name"] for source in config["projected"]["sources"] if "secret" in source
    ]
    assert secret["metadata"]["name"] in read, read
    assert PASSWORD not in yaml.safe_dump_all(install.manifests)


@pytest.mark.parametrize("install", ["aws", "azure"], indirect=True)
def test_flyte_reaches_its_managed_database_over_tls(install: Install) -> None:
    """RDS, or Azure's flexible server by the name its private DNS zone resolves."""
    database = install.config["002-database.yaml"]["database"]["postgres"]
    host = {
        "deploy/aws/terraform": "aws_db_instance.flyte[0].address",
        "deploy/azure/terraform": "azurerm_postgresql_flexible_server.flyte[0].fqdn",
    }[install.cloud.terraform]
    assert database["host"] == install.cloud.applied[host]
    assert "sslmode=require" in database["options"]


@pytest.mark.parametrize("install", ["gcp"], indirect=True)
def test_flyte_reaches_cloud_sql_through_the_auth_proxy_started_first(install: Install) -> None:
    """The Cloud SQL Auth Proxy runs beside the control plane, started before the chart's
    wait for the database and kept running (a native sidecar), serving the instance
    Terraform made on the port Flyte connects to on localhost."""
    database = install.config["002-database.yaml"]["database"]["postgres"]
    assert database["host"] == "127.0.0.1"
    (deployment,) = kind(install.manifests, "Deployment")
    starting = deployment["spec"]["template"]["spec"]["initContainers"]
    names = [container["name"] for container in starting]
    assert names.index("cloud-sql-proxy") < names.index("wait-for-db"), names
    (proxy,) = [container for container in starting if container["name"] == "cloud-sql-proxy"]
    assert proxy["restartPolicy"] == "Always"
    instance = install.cloud.applied["google_sql_database_instance.flyte[0].connection_name"]
    assert instance in proxy["args"]
    assert f"--port={database['port']}" in proxy["args"]


def test_flyte_keeps_its_data_in_its_bucket_on_the_clouds_object_store(install: Install) -> None:
    storage = install.config["003-storage.yaml"]
    assert storage["storage"]["stow"]["kind"] == install.cloud.object_store
    bucket = install.arguments["bucket"]
    assert storage["storage"]["container"] == bucket
    raw_outputs = storage["propeller"]["rawoutput-prefix"]
    assert raw_outputs.startswith(f"{install.cloud.scheme}://{bucket}/"), raw_outputs


def test_every_task_pod_gets_the_workspace_and_the_settings(install: Install) -> None:
    k8s = install.config["100-inline-config.yaml"]["plugins"]["k8s"]
    resources = install.cluster_resources("development")
    (pod_template,) = kind(resources, "PodTemplate")
    (claim,) = kind(resources, "PersistentVolumeClaim")
    assert pod_template["metadata"]["name"] == k8s["default-pod-template-name"]
    spec = pod_template["template"]["spec"]
    (container,) = spec["containers"]
    assert container["name"] == "default"  # merged into every container of the pod
    assert container["command"] == ["env"]  # past the image's entrypoint, the CLI
    (mount,) = container["volumeMounts"]
    (volume,) = spec["volumes"]
    assert volume["name"] == mount["name"]
    assert volume["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
    settings = k8s["default-env-vars"]
    (package,) = (install.project / "src").iterdir()
    prefix = f"{package.name.upper()}_"  # the settings' (config.py)
    params = yaml.safe_load((install.project / "params.yaml").read_text(encoding="utf-8"))
    workspace = mount["mountPath"]
    assert settings[f"{prefix}DATA__RAW_PATH"] == f"{workspace}/{params['data']['raw_path']}"
    assert settings[f"{prefix}SCORE__INPUT"] == install.arguments["batch_input_url"]
    assert settings[f"{prefix}INFERENCE_LOG__URL"] == install.arguments["inference_log_url"]
    on_volume = {name for name, value in settings.items() if value.startswith(f"{workspace}/")}
    assert {f"{prefix}MODELS_DIR", f"{prefix}DATA__PROCESSED_DIR"} <= on_volume, settings


def test_flow_deploy_refuses_an_image_not_pinned_by_digest(install: Install) -> None:
    """A tag is refused in one line before anything reaches the cluster."""
    applied = (install.captured / "applied.yaml").read_text(encoding="utf-8")
    result = subprocess.run(
        ["make", "--no-print-directory", "flow-deploy", "TRAINING_IMAGE=repository:latest"],
        cwd=install.project, capture_output=True, text=True, check=False,
        env={**os.environ, "PATH": f"{install.bin_dir}{os.pathsep}{os.environ['PATH']}"},
    )  # fmt: skip
    assert result.returncode != 0
    assert "pinned by digest (REPOSITORY@sha256:...), not 'repository:latest'" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert not result.stdout  # no command ran
    assert (install.captured / "applied.yaml").read_text(encoding="utf-8") == applied


def test_flow_deploy_registers_the_workflows_in_the_seeded_project_on_the_image(
    install: Install,
) -> None:
    """Through a port-forward to the chart's deployment, every task on the image given."""
    image = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/sample@sha256:" + "0" * 64
    result = subprocess.run(
        ["make", "--no-print-directory", "flow-deploy", f"TRAINING_IMAGE={image}"],
        cwd=install.project, capture_output=True, text=True, check=False, timeout=120,
        env={**os.environ, "PATH": f"{install.bin_dir}{os.pathsep}{os.environ['PATH']}"},
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    forwarded = json.loads((install.captured / "port-forward.json").read_text(encoding="utf-8"))
    (deployment,) = kind(install.manifests, "Deployment")
    namespace = install.helm[install.helm.index("--namespace") + 1]
    assert forwarded[:4] == [
        "-n",
        namespace,
        "port-forward",
        f"deployment/{deployment['metadata']['name']}",
    ]
    assert "8089:8089" in forwarded  # Flyte's gRPC API, which pyflyte registers through
    pyflyte = json.loads((install.captured / "uv.json").read_text(encoding="utf-8"))
    seeded = install.config["000-core.yaml"]["flyte"]["admin"]["seedProjects"]
    assert pyflyte["arguments"][:5] == ["run", "pyflyte", "register", "--project", seeded[0]]
    assert "--activate-launchplans" in pyflyte["arguments"]
    assert pyflyte["environment"] == {
        "PIPELINE_IMAGE": image,  # workflows.py's tasks' container_image
        "FLYTE_PLATFORM_URL": "dns:///localhost:8089",
    }
