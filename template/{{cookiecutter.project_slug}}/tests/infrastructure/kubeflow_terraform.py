"""What the checks of Kubeflow's deployments read from the cloud's kubeflow.tf (Vertex AI on
Google Cloud, Kubeflow Pipelines on EKS or AKS): the keys of an output's JSON object, and
the raw data the components' environment points at."""

from __future__ import annotations

import re
from pathlib import Path

from ..conftest import PROJECT_ROOT


def output_keys(terraform: Path, output: str) -> set[str]:
    """The keys of the JSON object a kubeflow.tf output encodes."""
    text = terraform.read_text(encoding="utf-8")
    pattern = 'output "' + output + r'" \{\n.*?jsonencode\(\{\n(.*?)\n  \}\)'
    block = re.search(pattern, text, re.S)
    assert block, f"{terraform} has no output {output} encoding an object"
    return set(re.findall(r'^    "?(\w+)"?\s+=', block.group(1), re.M))


def assert_raw_data_in_workspace(terraform: Path, output: str) -> None:
    """`output` gives the ingest component params.yaml's data.raw_path in the workspace, the
    path read from the project's params.yaml."""
    text = terraform.read_text(encoding="utf-8")
    read = re.findall(r'yamldecode\(file\("\$\{path\.module\}/([^"]+)"\)\)\.data\.raw_path', text)
    assert len(read) == 1, read
    assert (terraform.parent / read[0]).resolve() == (PROJECT_ROOT / "params.yaml").resolve()
    in_workspace = r"\$\{local\.kubeflow_workspace\}\$\{local\.kubeflow_raw_path\}"
    raw_path = r'_DATA__RAW_PATH"\s*=\s*"' + in_workspace + '"'
    assert re.search(raw_path, text), f"{output} has no raw data in the workspace"
