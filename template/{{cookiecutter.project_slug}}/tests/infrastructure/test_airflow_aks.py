"""ML Test Score, infrastructure: Airflow on AKS as a user installs it (dags/README.md, "On
Azure"): `make airflow-install` runs as typed, its tools stood in where they would reach
Azure or the cluster: Terraform's outputs as samples whose names are read from database.tf,
`az` printing the database password from Key Vault, `kubectl` writing what it is given to
create and keeping what it applies, `helm` recording how Airflow's chart is installed. The
chart itself is not rendered here (neither its repository nor GitHub is reachable): its
values are checked against what the rest of the project expects of them."""

from __future__ import annotations

import base64
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from ..conftest import PROJECT_ROOT, run_make, terraform_outputs

pytestmark = pytest.mark.infrastructure
DATABASE = PROJECT_ROOT / "deploy/azure/terraform/database.tf"
VALUES = PROJECT_ROOT / "dags/airflow-values.yaml"
# The database password Key Vault holds: a sample, alphanumeric as Terraform makes it.
IN_KEY_VAULT = "Sample0Password1OfForty2CharactersAlnum3"
OUTPUTS = {
    "airflow_database_host": "psql-demo-airflow.postgres.database.azure.com",
    "airflow_database_secret": "https://kv-demo.vault.azure.net/secrets/airflow-database-password",
}

# `az keyvault secret show --id ID --query value --output tsv`, or a failed read.
AZ = """
import sys
expected = ["keyvault", "secret", "show", "--id", {secret!r}, "--query", "value", "--output", "tsv"]
assert sys.argv[1:] == expected, sys.argv
if {fail!r}:
    sys.exit("ERROR: (Forbidden) The user does not have secrets get permission")
print({password!r})
"""

# kubectl's client side: what `create ... --dry-run=client -o yaml` prints, and `apply -f -`
# kept in $CAPTURED/applied.yaml.
KUBECTL = """
import base64, os, sys, yaml
args = sys.argv[1:]
captured = os.environ["CAPTURED"]
if args[:2] == ["apply", "-f"]:
    with open(os.path.join(captured, "applied.yaml"), "a") as applied:
        applied.write("---\\n" + sys.stdin.read())
    sys.exit(0)
assert "--dry-run=client" in args and args[args.index("-o") + 1] == "yaml", args
if args[:2] == ["create", "namespace"]:
    metadata = {"name": args[2]}
    print(yaml.safe_dump({"apiVersion": "v1", "kind": "Namespace", "metadata": metadata}))
    sys.exit(0)
namespace = args[args.index("-n") + 1]
rest = [a for a in args if a not in ("-n", namespace)]
assert rest[:3] == ["create", "secret", "generic"], args
(source,) = [a.split("=", 1)[1] for a in rest if a.startswith("--from-file=")]
key, path = source.split("=", 1)
data = open(path, "rb").read()
metadata = {"name": rest[3], "namespace": namespace}
encoded = {key: base64.b64encode(data).decode()}
print(yaml.safe_dump({"apiVersion": "v1", "kind": "Secret", "metadata": metadata, "data": encoded}))
"""

HELM = """
import json, os, sys
with open(os.path.join(os.environ["CAPTURED"], "helm.json"), "w") as log:
    json.dump(sys.argv[1:], log)
"""


def install(tmp_path: Path, *, password_read_fails: bool = False) -> tuple[Any, ...]:
    """`make airflow-install`: its result, what kubectl applied, how helm was called."""
    bin_dir = terraform_outputs(tmp_path / "bin", OUTPUTS)
    captured = tmp_path / "captured"
    captured.mkdir()
    stand_ins = {
        "az": AZ.format(
            secret=OUTPUTS["airflow_database_secret"],
            password=IN_KEY_VAULT,
            fail=password_read_fails,
        ),
        "kubectl": KUBECTL,
        "helm": HELM,
    }
    for name, body in stand_ins.items():
        (bin_dir / name).write_text(f"#!{sys.executable}\n{body}", encoding="utf-8")
        (bin_dir / name).chmod(0o755)
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "CAPTURED": str(captured),
    }
    result = run_make("airflow-install", env=env, succeed=not password_read_fails)
    applied_file = captured / "applied.yaml"
    applied = [
        document
        for document in yaml.safe_load_all(applied_file.read_text(encoding="utf-8"))
        if document
    ] if applied_file.exists() else []  # fmt: skip
    helm_file = captured / "helm.json"
    helm = json.loads(helm_file.read_text(encoding="utf-8")) if helm_file.exists() else None
    return result, applied, helm


def test_the_outputs_the_install_reads_are_terraforms() -> None:
    text = DATABASE.read_text(encoding="utf-8")
    for name in OUTPUTS:
        assert f'output "{name}"' in text, name


def test_the_metadata_connection_reaches_only_its_secret(tmp_path: Path) -> None:
    """Airflow reads its database connection (TLS required) from the Secret the values name,
    in the release's namespace; the password is nowhere else."""
    result, applied, helm = install(tmp_path)
    (secret,) = [document for document in applied if document["kind"] == "Secret"]
    namespace = helm[helm.index("--namespace") + 1]
    assert secret["metadata"]["namespace"] == namespace
    values = yaml.safe_load(VALUES.read_text(encoding="utf-8"))
    assert secret["metadata"]["name"] == values["data"]["metadataSecretName"]
    connection = base64.b64decode(secret["data"]["connection"]).decode()
    host = OUTPUTS["airflow_database_host"]
    assert connection == f"postgresql://airflow:{IN_KEY_VAULT}@{host}:5432/airflow?sslmode=require"
    assert values["postgresql"] == {"enabled": False}  # not the chart's own database
    assert IN_KEY_VAULT not in result.stdout + result.stderr + VALUES.read_text(encoding="utf-8")


def test_a_failed_password_read_stops_the_install(tmp_path: Path) -> None:
    result, applied, helm = install(tmp_path, password_read_fails=True)
    assert result.returncode != 0
    assert "Forbidden" in result.stderr
    assert [document["kind"] for document in applied] == ["Namespace"]
    assert helm is None


def test_the_chart_is_airflows_pinned_with_the_values_on_the_scheduler_the_steps_trust(
    tmp_path: Path,
) -> None:
    """Airflow's official chart at a pinned version, installed as the release whose
    scheduler `make flow-namespace` lets start the steps' pods, with a DAG volume that
    `make flow-deploy` ships into and the Airflow version the DAGs need."""
    _result, _applied, helm = install(tmp_path)
    assert helm[:4] == ["upgrade", "--install", "airflow", "airflow"], helm
    assert helm[helm.index("--repo") + 1] == "https://airflow.apache.org"
    assert re.fullmatch(r"\d+\.\d+\.\d+", helm[helm.index("--version") + 1]), helm
    assert helm[helm.index("--values") + 1] == str(VALUES.relative_to(PROJECT_ROOT))
    release, namespace = helm[2], helm[helm.index("--namespace") + 1]
    airflow_mk = (PROJECT_ROOT / "dags/airflow.mk").read_text(encoding="utf-8")
    # The chart names the scheduler's service account and the DAG processor after the release.
    assert f"--serviceaccount={namespace}:{release}-scheduler" in airflow_mk
    assert f"-n {namespace} exec -i deployment/{release}-dag-processor" in airflow_mk
    values = yaml.safe_load(VALUES.read_text(encoding="utf-8"))
    assert values["executor"] == "LocalExecutor"  # the tasks run in the scheduler
    dags = values["dags"]["persistence"]
    assert dags["enabled"]
    assert dags["accessMode"] == "ReadWriteMany"
    requirement = (PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8")
    (minimum,) = re.findall(r'"apache-airflow>=([\d.]+)', requirement)
    assert values["airflowVersion"] == values["defaultAirflowTag"]
    assert tuple(map(int, values["airflowVersion"].split("."))) >= tuple(
        map(int, minimum.split("."))
    )
