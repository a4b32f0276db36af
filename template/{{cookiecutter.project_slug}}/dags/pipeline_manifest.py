"""Write the DAG folder for an Airflow that has not got the project installed.

`ml_pipeline.py` reads the pipeline's steps and raw data from the project when it is
installed beside Airflow (`make airflow-run`, the tests). Airflow's own image does not hold
the project (the steps run in the pipeline image, as pods), so the DAG folder it parses is
written here: the DAG file; cluster.yaml with the image and, with --cloud, the cloud's
namespace, pod operator and environment (Terraform's output airflow_cluster, as JSON);
and pipeline.json, what the DAG file read from the project.

    uv run python dags/pipeline_manifest.py OUT_DIR --image REPOSITORY@sha256:... [--cloud FILE]
"""

from __future__ import annotations

import argparse
import json
import re
import runpy
import shutil
import sys
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).parent
DIGEST = re.compile(r"^\S+@sha256:[0-9a-f]{64}$")
CLOUD_KEYS = {"namespace", "pod_operator", "env"}  # Terraform's output airflow_cluster


def cluster_settings(image: str, cloud: dict[str, Any] | None) -> dict[str, Any]:
    """cluster.yaml with the image and the cloud's part."""
    cluster: dict[str, Any] = yaml.safe_load((HERE / "cluster.yaml").read_text(encoding="utf-8"))
    cluster["image"] = image
    if cloud is not None:
        cluster["namespace"] = cloud["namespace"]
        cluster["pod_operator"] = cloud["pod_operator"]
        cluster["env"] |= cloud["env"]
    return cluster


def write_dag_folder(out: Path, cluster: dict[str, Any]) -> None:
    """The DAG, its cluster.yaml and pipeline.json in `out`, once all three are known."""
    declared = runpy.run_path(str(HERE / "ml_pipeline.py"))["PIPELINE"]  # read from the project
    out.mkdir(parents=True)
    shutil.copy2(HERE / "ml_pipeline.py", out / "ml_pipeline.py")
    (out / "cluster.yaml").write_text(
        "# Written by dags/pipeline_manifest.py from dags/cluster.yaml.\n"
        + yaml.safe_dump(cluster, sort_keys=False),
        encoding="utf-8",
    )
    (out / "pipeline.json").write_text(json.dumps(declared, indent=2), encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="the DAG folder to write (must not exist)")
    parser.add_argument("--image", required=True, help="the pipeline image, by digest")
    parser.add_argument(
        "--cloud", type=argparse.FileType("r"), help="the cloud's settings, JSON (- for stdin)"
    )
    args = parser.parse_args(argv)
    if not DIGEST.match(args.image):
        sys.exit(f"--image must be pinned by digest (REPOSITORY@sha256:...), not {args.image!r}")
    if args.out.exists():
        sys.exit(f"{args.out} exists: remove it first (nothing is written over an old folder)")
    cloud = None
    if args.cloud is not None:
        try:
            cloud = json.load(args.cloud)
        except json.JSONDecodeError as error:
            sys.exit(f"--cloud is not JSON: {error}")
        if not isinstance(cloud, dict) or CLOUD_KEYS - cloud.keys():
            sys.exit(f"--cloud needs {', '.join(sorted(CLOUD_KEYS))}")
    write_dag_folder(args.out, cluster_settings(args.image, cloud))
    print(f"{args.out}: the DAGs, their steps as pods of {args.image}")


if __name__ == "__main__":
    main()
