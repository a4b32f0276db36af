"""Deep tier: with cloud=aws, the API writes its inference log to the bucket and `monitor`
reads it back, through s3fs, against a local S3 endpoint (moto's server).

The API runs with the image's own environment (the Dockerfile switches the log off) plus what
the rendered Terraform gives the ECS container (the URL, and the switch back on), so the
round trip breaks when either drifts from what the settings read. Credentials and the
endpoint come from the environment, as botocore reads them (`AWS_ENDPOINT_URL_S3`); nothing
is written to the local default log directory.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

from support.aws import s3_endpoint, s3_env
from support.deep import (
    DRIFT_EXIT_CODE,
    api_server,
    http,
    installed_project,
    run,
)
from support.rendering import defaults
from support.reporting import RecordProperty

pytestmark = pytest.mark.deep

BUCKET = "inference-log-test"


def container_environment(project: Path) -> tuple[dict[str, str], str]:
    """The environment the image declares and ECS's task adds (Terraform), for bucket BUCKET;
    and the inference log's URL in it."""
    dockerfile = (project / "Dockerfile").read_text(encoding="utf-8").splitlines()
    instructions = "\n".join(line for line in dockerfile if not line.lstrip().startswith("#"))
    image = dict(re.findall(r"(\w+_INFERENCE_LOG__\w+)=(\S+)", instructions))
    assert image, "the Dockerfile no longer sets the inference log's environment"
    terraform = project / "deploy" / "aws" / "terraform"
    storage = (terraform / "storage.tf").read_text(encoding="utf-8")
    (prefix,) = re.findall(r'inference_log_prefix = "([\w-]+)"', storage)
    assert 'inference_log_url    = "s3://${aws_s3_bucket.artifacts.bucket}/' in storage
    url = f"s3://{BUCKET}/{prefix}"
    serving = (terraform / "serving.tf").read_text(encoding="utf-8")
    task = {
        name: url if value == "local.inference_log_url" else value.strip('"')
        for name, value in re.findall(
            r'\{ name = "(\w+)", value = (local\.inference_log_url|"[^"]*") \}', serving
        )
    }
    assert url in task.values(), f"the ECS task gets no inference log URL: {task}"
    return image | task, url


def test_the_api_logs_to_the_bucket_and_monitor_reads_it_back(
    copier_source: Path, tmp_path: Path, record_property: RecordProperty
) -> None:
    answers = {**defaults(), "cloud": "aws", "tracker": "none", "ci": "none"}
    project, env, cli, package = installed_project(copier_source, answers, tmp_path / "project")
    prefix = package.upper()
    start = time.perf_counter()
    # The untuned model: this test is about where predictions go, not how good they are.
    untuned = {**env, f"{prefix}_TRAIN__TUNE": "false"}
    run(["uv", "run", "--no-sync", cli, "pipeline"], project, untuned)

    container, url = container_environment(project)
    code = (
        "import json, pandas as pd; "
        f"from {package}.data.contract import MODEL_INPUTS; "
        "rows = pd.read_parquet('data/processed/current.parquet')[list(MODEL_INPUTS)]; "
        "print(rows.to_json(orient='records'))"
    )
    rows = json.loads(run(["uv", "run", "--no-sync", "python", "-c", code], project, env).stdout)
    assert len(rows) >= 100, len(rows)

    with s3_endpoint(BUCKET, tmp_path / "moto.log") as endpoint:
        cloud = {**env, **container, **s3_env(endpoint)}
        with api_server(cli, project, cloud, tmp_path / "api.log") as base:
            status, body = http("POST", f"{base}/predict/batch", {"instances": rows})
            assert status == 200, body
        # Stopping the API flushed what it queued; the default directory stays empty.
        assert not (project / "logs" / "inference").exists()

        monitored = run(["uv", "run", "--no-sync", cli, "monitor"], project, cloud, check=False)
    seconds = time.perf_counter() - start
    record_property("wall_time", f"aws inference log round trip: {seconds:.1f} s")
    assert monitored.returncode == DRIFT_EXIT_CODE, (
        f"monitor exited {monitored.returncode} on the drifted batch read back from {url}:\n"
        f"{monitored.stdout[-3000:]}\n{monitored.stderr[-3000:]}"
    )
    summary = json.loads((project / "reports" / "monitoring" / "drift_summary.json").read_text())
    assert summary["source"].startswith(url), summary["source"]
    assert summary["drift_share"] >= 0.3, summary
