"""The project's pipeline on Kubeflow Pipelines (KFP v2).

Three pipelines over the steps that `pipeline.py` declares (no ML code here):

* `training`: ingest -> train -> promote, one component per step;
* `monitoring`: ingest -> monitor, then train -> promote only when monitoring recommends
  retraining (`dsl.If` on the monitor's output): drift-triggered retraining;
* `batch_scoring`: the champion scores the day's batch (params.yaml score.input, output).

Every component runs in the project's image (kubeflow.yaml). Usage:

    python orchestration/kubeflow/pipeline.py compile build/kubeflow   # pipeline YAML
    python orchestration/kubeflow/pipeline.py run                      # locally (kfp.local)
    python orchestration/kubeflow/pipeline.py schedule <KFP host>      # recurring runs
"""
# kfp ships no type information: its decorators return untyped objects.
# mypy: disable-error-code="untyped-decorator,misc"
# No `from __future__ import annotations`: KFP reads the components' annotations as types.

import argparse
import contextlib
import io
import json
import os
import sys
import warnings
from pathlib import Path
from typing import Any

import yaml
from kfp import compiler, dsl  # type: ignore[import-untyped]

from {{ cookiecutter.project_slug }}.pipeline import STEPS

CONFIG: dict[str, Any] = yaml.safe_load(
    Path(__file__).with_name("kubeflow.yaml").read_text(encoding="utf-8")
)
IMAGE = os.path.expandvars(os.environ.get("PIPELINE_IMAGE", CONFIG["image"]))
# Variables every component's container gets, as a JSON object (read when the pipelines
# compile, like the image): where a run on a cluster or Vertex AI keeps its files.
ENV: dict[str, str] = json.loads(os.environ.get("PIPELINE_ENV") or "{}")
if not isinstance(ENV, dict) or not all(isinstance(value, str) for value in ENV.values()):
    raise SystemExit("error: PIPELINE_ENV must be a JSON object of strings")


def read_pod(text: str) -> dict[str, Any]:
    """How every component's pod runs on a Kubeflow Pipelines cluster, from a JSON object
    (kfp-kubernetes writes it into the pipeline's Kubernetes spec): `workspace_claim`, a
    ReadWriteMany volume claim mounted at `workspace` (the files one step leaves for the next,
    kept from run to run), and `labels`, e.g. the one the cloud's workload identity asks for."""
    try:
        pod = json.loads(text or "{}")
    except json.JSONDecodeError:
        pod = None
    if not (pod == {} or is_pod(pod)):
        raise SystemExit(
            "error: PIPELINE_POD must be a JSON object of workspace_claim and workspace"
            " (non-empty strings) and labels (an object of strings)"
        )
    return dict(pod)


def is_pod(pod: object) -> bool:
    if not isinstance(pod, dict) or not set(pod) <= {"workspace_claim", "workspace", "labels"}:
        return False
    labels = pod.get("labels", {})
    return (
        all(isinstance(pod.get(key), str) and pod[key] for key in ("workspace_claim", "workspace"))
        and isinstance(labels, dict)
        and all(isinstance(value, str) for value in labels.values())
    )


POD = read_pod(os.environ.get("PIPELINE_POD", ""))
PIPELINES = ("training", "monitoring", "batch_scoring")


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def run_step(step: str) -> str:
    """One step of `pipeline.STEPS`, by name, with the settings of the container."""
    from {{ cookiecutter.project_slug }}.config import get_settings
    from {{ cookiecutter.project_slug }}.pipeline import STEPS

    (found,) = (s for s in STEPS if s.name == step)
    return str(found.run(get_settings()))


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def monitor() -> bool:
    """Drift, skew and live quality of the traffic the API logged, and the champion's age:
    is retraining recommended?"""
    from {{ cookiecutter.project_slug }}.config import get_settings
    from {{ cookiecutter.project_slug }}.monitoring.traffic import monitor_logged_traffic

    summary = monitor_logged_traffic(get_settings())  # None: too little traffic to judge
    return summary is not None and summary.retraining_recommended


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def score() -> str:
    """The day's batch scored by the champion, in chunks; rejects beside the scores."""
    from {{ cookiecutter.project_slug }}.config import get_settings
    from {{ cookiecutter.project_slug }}.pipeline import score_batch

    return str(score_batch(get_settings()))


def configured(task: Any, name: str) -> Any:
    """The task shown as `name`, with ENV, never cached (each run reads today's data and
    registry)."""
    task.set_display_name(name).set_caching_options(False)
    for variable, value in ENV.items():
        task.set_env_variable(variable, value)
    if POD:
        from kfp import kubernetes

        kubernetes.mount_pvc(task, pvc_name=POD["workspace_claim"], mount_path=POD["workspace"])
        for key, value in POD.get("labels", {}).items():
            kubernetes.add_pod_label(task, key, value)
        if "tracker_secret" in CONFIG:
            settings = {setting: setting for setting in CONFIG["tracker_settings"]}
            kubernetes.use_secret_as_env(task, CONFIG["tracker_secret"], settings)
    return task


def steps(names: list[str], after: Any = None) -> None:
    """The named steps in order, each after the previous one."""
    for name in names:
        task = configured(run_step(step=name), name)
        if after is not None:
            task.after(after)
        after = task


@dsl.pipeline(name="{{ cookiecutter.project_slug | replace('_', '-') }}-training")
def training() -> None:
    """Ingest, train and promote."""
    steps([step.name for step in STEPS])


@dsl.pipeline(name="{{ cookiecutter.project_slug | replace('_', '-') }}-monitoring")
def monitoring() -> None:
    """Check the logged traffic; retrain (and gate) when retraining is recommended."""
    ingest, *retrain = [step.name for step in STEPS]
    fresh = configured(run_step(step=ingest), ingest)
    check = configured(monitor(), "monitor").after(fresh)
    with dsl.If(check.output == True, name="retraining-recommended"):  # noqa: E712
        steps(retrain, after=check)


@dsl.pipeline(name="{{ cookiecutter.project_slug | replace('_', '-') }}-batch-scoring")
def batch_scoring() -> None:
    """Score the day's batch with the champion."""
    configured(score(), "score")


def compile_to(directory: Path) -> list[Path]:
    """Compile the pipelines to KFP's pipeline YAML."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in PIPELINES:
        path = directory / f"{name}.yaml"
        compiler.Compiler().compile(globals()[name], str(path))
        paths.append(path)
    return paths


def run_locally(pipeline_root: Path) -> None:
    """The pipelines in subprocesses of this environment (kfp.local): training, monitoring,
    then batch scoring with the champion."""
    from kfp import local

    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(pipeline_root))
    training()
    monitoring()
    batch_scoring()


def schedule(host: str, directory: Path) -> None:
    """Recurring runs on a Kubeflow Pipelines deployment: weekly training (continuous
    training), daily monitoring, which retrains when it recommends to, and daily batch
    scoring. Each replaces the recurring run of its name: a recurring run keeps the pipeline
    it was created with, so a new image is a new schedule."""
    from kfp import Client

    with warnings.catch_warnings():  # kfp warns on every client that it needs KFP >= 2.0
        warnings.filterwarnings("ignore", "This client only works", FutureWarning)
        client = Client(host=host)
    with contextlib.redirect_stdout(io.StringIO()):  # kfp prints the experiment's link
        experiment = client.create_experiment(CONFIG["experiment"])
    print(f"experiment {CONFIG['experiment']}: {experiment.experiment_id}")
    earlier = client.list_recurring_runs(experiment_id=experiment.experiment_id, page_size=100)
    for name, path in zip(PIPELINES, compile_to(directory), strict=True):
        job_name = f"{CONFIG['experiment']}-{name}"
        client.create_recurring_run(
            experiment_id=experiment.experiment_id,
            job_name=job_name,
            cron_expression=CONFIG[f"{name}_cron"],
            pipeline_package_path=str(path),
            max_concurrency=1,
            no_catchup=True,
            enable_caching=False,
        )
        for run in earlier.recurring_runs or []:  # once its successor exists
            if run.display_name == job_name:
                client.delete_recurring_run(run.recurring_run_id)
        print(f"scheduled {name}: {CONFIG[f'{name}_cron']}")


def refusal(error: Any) -> str:
    """An API error in one line: its status and the message of its google.rpc.Status body."""
    try:
        message = json.loads(error.body)["message"]
    except (TypeError, ValueError, KeyError):
        message = error.reason
    return f"{error.status} {message}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("compile").add_argument("directory", type=Path)
    commands.add_parser("run").add_argument("--pipeline-root", type=Path, default=Path("build"))
    scheduling = commands.add_parser("schedule")
    scheduling.add_argument("host")
    scheduling.add_argument("--directory", type=Path, default=Path("build/kubeflow"))
    arguments = parser.parse_args()
    if arguments.command == "compile":
        for path in compile_to(arguments.directory):
            print(path)
    elif arguments.command == "run":
        run_locally(arguments.pipeline_root / "kubeflow")
    else:
        from kfp_server_api.exceptions import ApiException  # type: ignore[import-untyped]
        from urllib3.exceptions import HTTPError

        try:
            schedule(arguments.host, arguments.directory)
        except ApiException as error:
            sys.exit(f"error: Kubeflow Pipelines at {arguments.host} refused: {refusal(error)}")
        except HTTPError as error:
            sys.exit(f"error: Kubeflow Pipelines at {arguments.host} unreachable: {error}")


if __name__ == "__main__":
    main()
