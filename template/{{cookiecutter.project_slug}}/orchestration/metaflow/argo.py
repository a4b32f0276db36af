"""Deploy the three flows to Argo Workflows, every step a pod on the shared workspace volume.

`--with kubernetes` alone gives each step a pod of its own that shares nothing, but the
steps hand each other files (the processed data, the models, the reports). So every step
gets kubernetes.yaml's volume and Secrets (`--with kubernetes:...`) and settings (`--with
environment:...`): its files on the volume, the raw data at params.yaml's data.raw_path
there, and, with --cloud, the cloud's settings. --cloud also brings the cloud's Metaflow
configuration (datastore, namespace, service account: Terraform's output, as JSON), and
--image the steps' image. Arguments after `--` go to `argo-workflows create` (--only-json
prints the workflow templates and deploys nothing).

    uv run python orchestration/metaflow/argo.py [--cloud FILE] [--image IMAGE@sha256:...] [-- ...]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import IO, Any

import yaml

from {{ cookiecutter.project_slug }}.config import ENV_PREFIX, ConfigurationError, get_settings

HERE = Path(__file__).parent
FLOWS = ("training_flow.py", "monitoring_flow.py", "scoring_flow.py")
DIGEST = re.compile(r"^\S+@sha256:[0-9a-f]{64}$")
CLOUD_KEYS = {"config", "env"}  # the cloud's Terraform output, e.g. metaflow_on_gke


def compact(value: Any) -> str:
    """JSON without spaces, as Metaflow reads a decorator attribute from `--with`."""
    return json.dumps(value, separators=(",", ":"))


def step_options(cloud_env: dict[str, str]) -> list[str]:
    """The `--with` options that put every step on the volume, with its Secrets and settings."""
    cluster: dict[str, Any] = yaml.safe_load((HERE / "kubernetes.yaml").read_text("utf-8"))
    workspace = cluster["workspace"]
    claims = {cluster["workspace_claim"]: workspace}
    kubernetes: dict[str, Any] = {"persistent_volume_claims": claims}
    if cluster["secrets"]:
        kubernetes["secrets"] = cluster["secrets"]
    raw_path = f"{workspace}/{get_settings().data.raw_path.as_posix()}"
    settings = {"DATA__RAW_PATH": raw_path, **cluster["env"], **cloud_env}
    env = {f"{ENV_PREFIX}{name}": str(value) for name, value in settings.items()}
    attributes = ",".join(f"{name}={compact(value)}" for name, value in kubernetes.items())
    return ["--with", f"kubernetes:{attributes}", "--with", f"environment:vars={compact(env)}"]


def read_cloud(source: IO[str]) -> dict[str, Any]:
    try:
        cloud = json.load(source)
    except json.JSONDecodeError as error:
        sys.exit(f"--cloud is not JSON: {error}")
    if not isinstance(cloud, dict) or CLOUD_KEYS - cloud.keys():
        sys.exit(f"--cloud needs {', '.join(sorted(CLOUD_KEYS))}")
    return cloud


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--cloud", type=argparse.FileType("r"), help="the cloud's settings, JSON (- for stdin)"
    )
    parser.add_argument("--image", help="the steps' image, by digest (else Metaflow's config)")
    parser.add_argument("create", nargs="*", help="after --: options of argo-workflows create")
    args = parser.parse_args(argv)
    if args.image is not None and not DIGEST.match(args.image):
        sys.exit(f"--image must be pinned by digest (REPOSITORY@sha256:...), not {args.image!r}")
    config: dict[str, str] = {}  # Metaflow's own configuration, over the user's
    cloud_env: dict[str, str] = {}  # the steps' settings, over kubernetes.yaml's
    if args.cloud is not None:
        cloud = read_cloud(args.cloud)
        config = {name: str(value) for name, value in cloud["config"].items()}
        cloud_env = cloud["env"]
    if args.image is not None:
        config["METAFLOW_KUBERNETES_CONTAINER_IMAGE"] = args.image
    try:
        options = step_options(cloud_env)
    except ConfigurationError as error:  # params.yaml, as the CLI reports it
        sys.exit(str(error))
    for flow in FLOWS:
        command = [sys.executable, str(HERE / flow), *options, "argo-workflows", "create"]
        deployed = subprocess.run(  # noqa: S603  # this interpreter, the flows beside this file
            [*command, *args.create], env={**os.environ, **config}, check=False
        )
        if deployed.returncode != 0:
            sys.exit(deployed.returncode)  # Metaflow has said why


if __name__ == "__main__":
    main()
