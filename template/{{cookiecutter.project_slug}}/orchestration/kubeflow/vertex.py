"""The pipelines on Vertex AI Pipelines: one schedule per pipeline, kubeflow.yaml's crons.

`make flow-deploy` compiles the pipelines with the image and the components' environment
(PIPELINE_IMAGE, PIPELINE_ENV: Terraform's output `vertex_pipeline_env`) and pipes in
Terraform's output `vertex_pipelines` (project, region, service account, pipeline root).
A pipeline's earlier schedule is replaced, as a schedule runs the pipeline it was created
with: a new image or pipeline is a new schedule.

    PIPELINE_IMAGE=... PIPELINE_ENV=... python -m orchestration.kubeflow.vertex < settings.json
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from google.api_core.exceptions import GoogleAPIError
from google.auth.exceptions import DefaultCredentialsError, GoogleAuthError
from google.cloud import aiplatform
from orchestration.kubeflow import pipeline

SETTINGS = ("project", "location", "service_account", "pipeline_root")


def vertex_cron(kfp_cron: str, timezone: str = "UTC") -> str:
    """KFP's cron (seconds first) as Vertex AI's: its time zone, then five fields."""
    seconds, *fields = kfp_cron.split()
    if seconds != "0" or len(fields) != 5:
        raise ValueError(f"cron {kfp_cron!r}: Vertex AI schedules whole minutes: 0 then 5 fields")
    return f"TZ={timezone} {' '.join(fields)}"


def schedule(settings: dict[str, str], directory: Path) -> list[aiplatform.PipelineJobSchedule]:
    """Compile the pipelines into `directory` and (re)create their schedules."""
    aiplatform.init(project=settings["project"], location=settings["location"])
    crons = {name: vertex_cron(pipeline.CONFIG[f"{name}_cron"]) for name in pipeline.PIPELINES}
    schedules = []
    for name, path in zip(pipeline.PIPELINES, pipeline.compile_to(directory), strict=True):
        display_name = f"{pipeline.CONFIG['experiment']}-{name}"
        earlier = aiplatform.PipelineJobSchedule.list(filter=f'display_name="{display_name}"')
        job = aiplatform.PipelineJob(
            display_name=display_name,
            template_path=str(path),
            pipeline_root=settings["pipeline_root"],
            enable_caching=False,  # each run reads today's data and registry
        )
        schedules.append(
            job.create_schedule(
                display_name=display_name,
                cron=crons[name],
                max_concurrent_run_count=1,
                service_account=settings["service_account"],
            )
        )
        for replaced in earlier:  # once its successor exists: never a pipeline unscheduled
            replaced.delete()
    return schedules


def read_settings(text: str) -> dict[str, str]:
    """Terraform's `vertex_pipelines` output: exactly SETTINGS, each a string."""
    settings: Any = json.loads(text)
    if not isinstance(settings, dict) or sorted(settings) != sorted(SETTINGS):
        raise ValueError(f"the settings must be a JSON object of {', '.join(SETTINGS)}")
    if not all(isinstance(value, str) and value for value in settings.values()):
        raise ValueError("every setting must be a non-empty string")
    return settings


def main() -> None:
    # Each of the SDK's modules logs every call to stdout at INFO: print our lines alone.
    for name in list(logging.root.manager.loggerDict):
        if name.startswith("google.cloud.aiplatform"):
            logging.getLogger(name).setLevel(logging.WARNING)
    try:
        settings = read_settings(sys.stdin.read())
        with TemporaryDirectory() as directory:
            schedules = schedule(settings, Path(directory))
    except json.JSONDecodeError as error:
        sys.exit(f"error: the Vertex AI settings are not JSON ({error})")
    except ValueError as error:
        sys.exit(f"error: {error}")
    except DefaultCredentialsError:
        sys.exit("error: no Google credentials: run gcloud auth application-default login")
    except GoogleAuthError as error:
        sys.exit(f"error: Google sign-in failed: {error}")
    except GoogleAPIError as error:
        sys.exit(f"error: Vertex AI refused the schedules: {error}")
    for created in schedules:
        print(f"scheduled {created.display_name}: {created.cron}")


if __name__ == "__main__":
    main()
