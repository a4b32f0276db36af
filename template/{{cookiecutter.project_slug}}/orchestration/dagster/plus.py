"""Write the code location Dagster+ loads: dagster_cloud.yaml's, with the image (by digest),
the raw data's path on the workspace volume and the cloud's container context (Terraform's
output, as JSON: the namespace, the service account, labels and the bucket's URLs). A
container context the agent cannot read shows only after Dagster+ has taken the location,
so this script checks it with dagster-k8s, as the agent reads it, and writes nothing when
it is wrong.

    uv run python orchestration/dagster/plus.py OUT --image IMAGE@sha256:... --cloud FILE
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

import yaml
from dagster import DagsterInvalidConfigError
from dagster_k8s.container_context import K8sContainerContext

from {{ cookiecutter.project_slug }}.config import ENV_PREFIX, get_settings

HERE = Path(__file__).parent
DIGEST = re.compile(r"^\S+@sha256:[0-9a-f]{64}$")
CLOUD_KEYS = {"namespace", "service_account_name", "env"}  # e.g. Terraform's dagster_on_eks


def location(image: str, cloud: dict[str, Any]) -> dict[str, Any]:
    """dagster_cloud.yaml's one location, deployed: the image and the cloud's context."""
    document = yaml.safe_load((HERE / "dagster_cloud.yaml").read_text("utf-8"))
    (code_location,) = document["locations"]
    k8s = code_location["container_context"]["k8s"]
    (workspace,) = (m["mountPath"] for m in k8s["volume_mounts"] if m["name"] == "workspace")
    raw_path = f"{workspace}/{get_settings().data.raw_path.as_posix()}"
    settings = {"DATA__RAW_PATH": raw_path, **cloud["env"]}
    k8s["env_vars"] += [f"{ENV_PREFIX}{name}={value}" for name, value in settings.items()]
    k8s["namespace"] = cloud["namespace"]
    k8s["service_account_name"] = cloud["service_account_name"]
    if cloud.get("labels"):
        k8s["labels"] = cloud["labels"]
    return {**code_location, "image": image}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="the location file to write")
    parser.add_argument("--image", required=True, help="the code location's image, by digest")
    parser.add_argument(
        "--cloud", required=True, type=argparse.FileType("r"), help="the cloud's settings, JSON"
    )
    args = parser.parse_args(argv)
    if not DIGEST.match(args.image):
        sys.exit(f"--image must be pinned by digest (REPOSITORY@sha256:...), not {args.image!r}")
    try:
        with args.cloud:
            cloud = json.load(args.cloud)
    except json.JSONDecodeError as error:
        sys.exit(f"--cloud is not JSON: {error}")
    if not isinstance(cloud, dict) or CLOUD_KEYS - cloud.keys():
        sys.exit(f"--cloud needs {', '.join(sorted(CLOUD_KEYS))}")
    deployed = location(args.image, cloud)
    try:
        K8sContainerContext.create_from_config(deployed["container_context"])
    except DagsterInvalidConfigError as error:
        # Each of Dagster's errors ends with the whole schema: the first one, up to it.
        first = error.errors[0].message.split(" Expected:", 1)[0]
        sys.exit(f"the container context is not one the agent reads: {first}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(yaml.safe_dump({"locations": [deployed]}, sort_keys=False), "utf-8")
    print(f"{args.out}: {deployed['location_name']} in {args.image}")


if __name__ == "__main__":
    main()
