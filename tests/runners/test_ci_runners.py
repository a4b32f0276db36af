"""The real-runner tier: the rendered CI runs under real runners, its jobs on this host.

GitHub: the workflows of the default render and of the aws and azure renders under act.
GitLab: the pipelines of the gitlab render (cloud=gcp) under gitlab-ci-local (shell
executor).

Schemas and actionlint say a workflow is well-formed; only a runner says it works. act runs
the jobs on this host (`-P ubuntu-24.04=-self-hosted`), offline (`--no-cache-server
--action-offline-mode --pull=false`), with every remote action replaced by a local composite
stub (tests/act_stubs/, via `--local-repository owner/repo@sha=DIR`) that does the honest
local equivalent and checks its inputs: checkout fetches the commit under test, setup-uv and
setup-terraform require the pinned version, upload/download-artifact copy files (and fail
when `if-no-files-found: error` matches nothing or the artifact is missing), and the cloud
logins fail unless they are given what OIDC needs (a role, a client id) and no key.

What needs a Docker engine or a cloud account cannot run here. Such steps (GitHub) and
script lines (GitLab) are named below with their reason; the test replaces each by an echo
of that reason in the working tree (the commit the jobs check out is untouched) and asserts
that every name still matches a step, so the list cannot rot. Everything else runs and must
pass. Every job of every render is run here or named with its reason: covered (the same job
runs in another render here, or by tests/deep/test_deep.py) or environment-limited.

The renders are committed without uv.lock, as a new project's first push is: the jobs that
ran prove that the first push passes. One uv cache serves every render and runner.

The loop, for real: CT (and CM's retrain) promote into one shared MLflow store, and CD's
champion job ships the version that store's `champion` alias names, training nothing.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import sqlite3
import subprocess
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from support.gitlab_yaml import GitLabDumper, GitLabLoader
from support.rendering import OFFLINE_ENV, python_env, render_copier
from support.reporting import RecordProperty

pytestmark = pytest.mark.deep

STUBS = Path(__file__).resolve().parent / "act_stubs"
STUB_FOR = {
    "actions/checkout": STUBS / "checkout",
    "astral-sh/setup-uv": STUBS / "setup-uv",
    "actions/upload-artifact": STUBS / "upload-artifact",
    "actions/download-artifact": STUBS / "download-artifact",
    "docker/metadata-action": STUBS / "metadata-action",
    "hashicorp/setup-terraform": STUBS / "setup-terraform",
    "aws-actions/configure-aws-credentials": STUBS / "configure-aws-credentials",
    "azure/login": STUBS / "azure-login",
}
# Every runs-on label of the rendered workflows, mapped to this host.
PLATFORMS = {"ubuntu-24.04": "-self-hosted"}
TIMEOUT = 1800
IMAGE = "ghcr.io/ml/credit-risk@sha256:" + "0" * 64

DOCKER = "needs a Docker engine"
ENVIRONMENT_LIMITED_STEPS = {
    # (workflow, job, step name, or its action, or its command): reason
    ("cd.yml", "image", "docker/setup-buildx-action"): f"{DOCKER} (buildx)",
    ("cd.yml", "image", "docker/login-action"): "needs ghcr.io and a GitHub token",
    ("cd.yml", "image", "Build once and push by digest (untagged until the canary passes)"): (
        f"{DOCKER} and ghcr.io"
    ),
    ("cd.yml", "image", "Canary the pushed image (health, readiness, one prediction)"): DOCKER,
    ("cd.yml", "image", "Tag the canaried digest (no rebuild)"): "needs ghcr.io",
    ("cd.yml", "image", "actions/attest-build-provenance"): (
        "needs GitHub's OIDC token, Sigstore and ghcr.io"
    ),
    ("template-update.yml", "check", "Compare the project with the template's newest release"): (
        "needs the template's git remote (copier check-update)"
    ),
    ("template-update.yml", "check", "Open or update the issue"): "needs a GitHub account",
    ("deploy-aws.yml", "deploy", "Log in to GHCR and ECR"): f"{DOCKER} and an AWS account",
    ("deploy-aws.yml", "deploy", "Copy the image to ECR and deploy it"): "needs an AWS account",
    ("infra-aws.yml", "terraform", "terraform init (S3 state)"): "needs the state bucket (AWS)",
    ("infra-aws.yml", "terraform", "terraform validate -no-color"): (
        "needs the providers `terraform init` downloads"
    ),
    ("infra-aws.yml", "terraform", "terraform plan -lock=false -no-color"): "needs an AWS account",
    ("deploy-azure.yml", "deploy", "Copy the image to Azure Container Registry and deploy it"): (
        f"{DOCKER} and an Azure subscription"
    ),
    ("infra-azure.yml", "terraform", "terraform init (blob state)"): (
        "needs the state storage account (Azure)"
    ),
    ("infra-azure.yml", "terraform", "terraform validate -no-color"): (
        "needs the providers `terraform init` downloads"
    ),
    ("infra-azure.yml", "terraform", "terraform plan -lock=false -no-color"): (
        "needs an Azure subscription"
    ),
}
# Workflows whose every job needs one of GitHub's own services, so no step could run here.
ENVIRONMENT_LIMITED_WORKFLOWS = {
    "security.yml": "needs GitHub's code scanning (CodeQL uploads its results) and dependency "
    "graph (dependency review compares a pull request's dependencies)",
}
# Steps that do not run here because another test runs the same command on the same render.
COVERED_STEPS = {
    ("ci.yml", "test", "make test"): "tests/deep/test_deep.py runs `make test` on this same "
    "default render; running the project's whole suite twice would double the tier's time",
}
# Repository variables the cloud workflows read (their READMEs list them), shaped as
# `terraform output` gives them.
VARIABLES = {
    "AWS_REGION": "eu-west-1",
    "AWS_PLAN_ROLE_ARN": "arn:aws:iam::123456789012:role/credit-risk-ci-plan",
    "AWS_DEPLOY_ROLE_ARN": "arn:aws:iam::123456789012:role/credit-risk-ci-deploy",
    "TF_STATE_BUCKET": "credit-risk-tfstate",
    "ECR_REPOSITORY": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/credit-risk",
    "ECS_CLUSTER": "credit-risk",
    "ECS_SERVICE": "credit-risk",
    "ECS_TASK_FAMILY": "credit-risk",
    "AZURE_TENANT_ID": "11111111-2222-3333-4444-555555555555",
    "AZURE_SUBSCRIPTION_ID": "66666666-7777-8888-9999-000000000000",
    "AZURE_PLANNER_CLIENT_ID": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
    "AZURE_DEPLOYER_CLIENT_ID": "ffffffff-bbbb-cccc-dddd-eeeeeeeeeeee",
    "AZURE_RESOURCE_GROUP": "credit-risk",
    "AZURE_REGISTRY": "creditrisk",
    "AZURE_IMAGE_REPOSITORY": "creditrisk.azurecr.io/credit-risk",
    "AZURE_CONTAINER_APP": "credit-risk",
    "TF_STATE_ACCOUNT": "creditrisktfstate",
}

# The renders and what runs in each: (workflow, event, extra act arguments).
GITHUB_RENDERS: dict[str, dict[str, str]] = {
    "default": {},
    "aws": {"cloud": "aws"},
    "azure": {"cloud": "azure"},
}
GITHUB_RUNS = {
    # CT, then CM (whose retrain calls CT) promote into the shared store; then CD ships.
    "default": (
        ("ct.yml", "workflow_dispatch", ()),
        ("cm.yml", "workflow_dispatch", ()),
        ("cd.yml", "push", ()),
        ("batch-scoring.yml", "workflow_dispatch", ()),
        ("template-update.yml", "workflow_dispatch", ()),
    ),
    "aws": (
        ("infra-aws.yml", "pull_request", ()),
        ("deploy-aws.yml", "workflow_call", ("--input", f"image={IMAGE}")),
    ),
    "azure": (
        ("infra-azure.yml", "pull_request", ()),
        ("deploy-azure.yml", "workflow_call", ("--input", f"image={IMAGE}")),
    ),
}
# In a cloud render, the workflows it shares with the default render are byte-identical
# (asserted), so their jobs ran there; cm.yml and batch-scoring.yml add only the cloud
# sign-in to one job each (asserted; it needs the cloud's OIDC trust, so it cannot run
# here); cd.yml adds the deploy job, which calls the cloud's deploy workflow, run here
# directly with the input cd.yml gives it.
SHARED = ("ci.yml", "ct.yml", "template-update.yml")
SIGNED_IN = {"cm.yml": "monitor", "batch-scoring.yml": "score"}  # workflow: the job signing in


def without_cloud_login(workflow: dict[str, Any], job: str, login: str) -> dict[str, Any]:
    """A cloud render's workflow minus what the cloud adds: `job`'s OIDC permission and its
    sign-in step (through `login`), which must be there."""
    signing_in = workflow["jobs"][job]
    assert signing_in.pop("permissions") == {"contents": "read", "id-token": "write"}
    (sign_in,) = [step for step in signing_in["steps"] if step.get("uses") == login]
    signing_in["steps"].remove(sign_in)
    return workflow


def act(project: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["act", *args], cwd=project, env=env, capture_output=True, text=True,
        timeout=TIMEOUT, check=False,
    )  # fmt: skip


def listed_jobs(project: Path, env: dict[str, str]) -> set[tuple[str, str]]:
    """(workflow file, job id) of every job `act -l` finds."""
    result = act(project, "-l", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    jobs = set()
    for line in result.stdout.splitlines():
        fields = line.split()
        if not fields or not fields[0].isdigit():
            continue  # the header
        workflow = next(f for f in fields if f.endswith(".yml"))
        jobs.add((workflow, fields[1]))
    return jobs


def load(path: Path) -> dict[str, Any]:
    data: dict[Any, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    if True in data:  # YAML 1.1 reads the key `on` as true
        data["on"] = data.pop(True)
    return data


def workflows(project: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    for path in sorted((project / ".github/workflows").glob("*.yml")):
        yield path.name, load(path)


def step_label(step: dict[str, Any]) -> str:
    if "name" in step:
        return str(step["name"])
    if "uses" in step:
        return str(step["uses"]).split("@")[0]
    return str(step["run"]).strip().splitlines()[0]


def mark_not_run(project: Path) -> list[str]:
    """Replace each environment-limited or covered step by an echo of its reason (working
    tree only); returns the replaced steps that always run (no `if`). A named step missing
    from its workflow fails."""
    replaced = []
    not_run = {k: f"environment-limited: {k[2]}: {v}" for k, v in ENVIRONMENT_LIMITED_STEPS.items()}
    not_run |= {k: f"covered: {k[2]}: {v}" for k, v in COVERED_STEPS.items()}
    for name, _ in workflows(project):
        path = project / ".github/workflows" / name
        wanted = {k: v for k, v in not_run.items() if k[0] == name}
        if not wanted:
            continue
        data = load(path)
        for (_, job, label), message in wanted.items():
            steps = data["jobs"][job]["steps"]
            found = [i for i, s in enumerate(steps) if step_label(s) == label]
            assert found, f"{name}:{job} has no step {label!r} any more"
            (index,) = found
            unconditional = "if" not in steps[index]
            steps[index] = {k: v for k, v in steps[index].items() if k in ("id", "if")}
            steps[index] |= {"name": label, "run": "echo " + shlex.quote(message)}
            if unconditional:
                replaced.append(f"{name}:{message}")
        text = yaml.dump(data, Dumper=GitLabDumper, sort_keys=False, width=1000)
        path.write_text(text, encoding="utf-8")
    return replaced


# Keyless signing (CT) and its verification (CT, CM, batch scoring, CD) need Sigstore's public
# instance (Fulcio, Rekor, its TUF root), which is not reachable here: the runs sign with a
# key pair of the test's own instead, outside the jobs' workspaces, so that CD verifies what
# CT signed. GitLab: pipeline variables win over the jobs' `variables:`; GitHub: the
# workflows' `env:` is rewritten in the working tree.
def local_signing(keys: Path) -> dict[str, str]:
    """The settings that sign and verify with the key pair in `keys` (made on first use)."""
    trusted = json.dumps([{"public_key": str(keys / "model-signing.pub")}])
    return {
        f"{SETTINGS_PREFIX}_SIGN__METHOD": "key",
        f"{SETTINGS_PREFIX}_SIGN__PRIVATE_KEY": str(keys / "model-signing.key"),
        f"{SETTINGS_PREFIX}_SERVE__TRUSTED_SIGNERS": trusted,
    }


def sign_with_a_local_key(project: Path, keys: Path) -> list[str]:
    """Point every workflow that signs or trusts CT's keyless identity at `keys` instead
    (working tree only); returns the workflows changed. A workflow that names the keyless
    identity must say it is keyless: the check fails when a workflow drops the identity."""
    changed = []
    for name, _ in workflows(project):
        path = project / ".github/workflows" / name
        data = load(path)
        env = data.get("env", {})
        trusted = env.get(f"{SETTINGS_PREFIX}_SERVE__TRUSTED_SIGNERS")
        if trusted is None:
            continue
        assert "token.actions.githubusercontent.com" in trusted, (name, trusted)
        data["env"] = {**env, **local_signing(keys)}
        if f"{SETTINGS_PREFIX}_SIGN__METHOD" not in env:  # it only verifies
            del data["env"][f"{SETTINGS_PREFIX}_SIGN__METHOD"]
        text = yaml.dump(data, Dumper=GitLabDumper, sort_keys=False, width=1000)
        path.write_text(text, encoding="utf-8")
        changed.append(name)
    return changed


def remote_actions(project: Path) -> set[tuple[str, str]]:
    """(owner/repo, ref) of every remote action the workflows and local actions use."""
    paths = [*project.glob(".github/workflows/*.yml"), *project.glob(".github/actions/*/*.yml")]
    found = set()
    for path in paths:
        for use in re.findall(r"uses:\s*([^\s#]+)", path.read_text(encoding="utf-8")):
            if not use.startswith("./"):
                repo, ref = use.split("@")
                found.add(("/".join(repo.split("/")[:2]), ref))
    return found


def runner_env() -> dict[str, str]:
    env = python_env() | OFFLINE_ENV
    env |= {"UV_PYTHON_DOWNLOADS": "never", "NO_COLOR": "1", "UV_NO_PROGRESS": "1"}
    env.pop("CI", None)  # the runners set the CI variables themselves
    env.pop("MLFLOW_TRACKING_URI", None)
    env.pop("VIRTUAL_ENV", None)  # the template's own environment, not the project's
    return env


def commit(project: Path) -> None:
    for args in (("init", "-q", "-b", "main"), ("add", "-A"), ("commit", "-q", "-m", "first")):
        subprocess.run(["git", *args], cwd=project, check=True, capture_output=True)


@pytest.fixture(scope="module")
def github_renders(
    copier_source: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    """The GitHub renders, each committed as a new project's first push (no uv.lock)."""
    root = tmp_path_factory.mktemp("act")
    renders = {}
    for name, answers in GITHUB_RENDERS.items():
        project = render_copier(copier_source, answers, root / name)
        assert not (project / "uv.lock").exists()
        commit(project)
        renders[name] = project
    return renders


# Production traffic for CM: the bundled drifted batch, scored by the shared store's champion
# through the API (in-process), into an inference log the CM jobs then check.
SETTINGS_PREFIX = "CREDIT_RISK"  # the default project name's settings variables
SEND_TRAFFIC = """
import pandas as pd
from fastapi.testclient import TestClient
from credit_risk.config import get_settings
from credit_risk.data.contract import MODEL_INPUTS
from credit_risk.serving.server import app_from_settings
rows = pd.read_parquet(get_settings().data.processed_dir / "current.parquet")[list(MODEL_INPUTS)]
with TestClient(app_from_settings()) as client:
    answer = client.post("/predict/batch", json={"instances": rows.to_dict("records")})
    assert answer.status_code == 200, answer.text
"""


def logged_traffic(project: Path, store: Path, keys: Path, log: Path, env: dict[str, str]) -> Path:
    """An inference log of the drifted batch as the store's champion served it (signed by
    the key pair in `keys`), written by a copy of the project (so that the render the
    runners use keeps its first-push state)."""
    copy = log.parent / f"{log.name}-sender"
    shutil.copytree(project, copy, ignore=shutil.ignore_patterns(".git", ".gitlab-ci-local"))
    sender_env = (
        env
        | local_signing(keys)
        | {
            "MLFLOW_TRACKING_URI": f"sqlite:///{store / 'mlflow.db'}",
            f"{SETTINGS_PREFIX}_INFERENCE_LOG__URL": str(log),
        }
    )
    for command in (["credit-risk", "ingest"], ["credit-risk", "ship-champion"]):
        subprocess.run(["uv", "run", "--quiet", *command], cwd=copy, env=sender_env, check=True)
    subprocess.run(
        ["uv", "run", "--quiet", "python", "-c", SEND_TRAFFIC], cwd=copy, env=sender_env, check=True
    )
    assert list(log.rglob("*.jsonl")), f"no inference log written under {log}"
    return log


# One thread: pyarrow's thread pool can abort the interpreter at exit ("terminate called
# without an active exception", apache/arrow#34314): a reader like this one exited 134 once,
# right after reading, in a CI run of this tier.
READ_SCORES = """
import json, sys
import pandas as pd
scores = pd.read_parquet(sys.argv[1], use_threads=False)
print(json.dumps([len(scores), sorted(set(scores["model_version"]))]))
"""


def scores_files(found: Iterable[Path]) -> list[Path]:
    """The scores among a batch-scoring run's files (the rejects file is beside them)."""
    return [path for path in found if not path.name.endswith(".rejects.parquet")]


def scores_in(project: Path, scores: Path, env: dict[str, str]) -> tuple[int, set[str]]:
    """The rows of a batch-scoring output and the model versions in it (read with the
    project's environment: the harness has no pandas)."""
    result = subprocess.run(
        ["uv", "run", "--quiet", "python", "-c", READ_SCORES, str(scores)],
        cwd=project, env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0, f"reading {scores} exited {result.returncode}:\n{result.stderr}"
    rows, versions = json.loads(result.stdout)
    return rows, set(versions)


def act_args(project: Path, artifacts: Path, store: Path) -> list[str]:
    args = ["--no-skip-checkout", "--no-cache-server", "--action-offline-mode", "--pull=false"]
    for label, platform in PLATFORMS.items():
        args += ["-P", f"{label}={platform}"]
    for repo, ref in sorted(remote_actions(project)):
        if repo in STUB_FOR:
            args += ["--local-repository", f"{repo}@{ref}={STUB_FOR[repo]}"]
    args += ["--env", f"ACT_STUB_ARTIFACTS={artifacts}", "--env", f"ACT_STUB_REPOSITORY={project}"]
    for name, value in VARIABLES.items():
        args += ["--var", f"{name}={value}"]
    # The shared tracking store CT promotes into and CD ships from (a tracker secret).
    args += ["--secret", f"MLFLOW_TRACKING_URI=sqlite:///{store / 'mlflow.db'}"]
    return args


def with_called(project: Path, workflow: str) -> set[str]:
    """A workflow and those it calls, transitively."""
    found = {workflow}
    pending = [workflow]
    while pending:
        jobs = load(project / ".github/workflows" / pending.pop())["jobs"]
        for job in jobs.values():
            called = Path(str(job.get("uses", ""))).name
            if called.endswith(".yml") and called not in found:
                found.add(called)
                pending.append(called)
    return found


def run_workflows(project: Path, render: str) -> set[str]:
    """The workflows run in a render: those run directly and those they call."""
    return {w for run, _, _ in GITHUB_RUNS[render] for w in with_called(project, run)}


def accounted_github(renders: dict[str, Path]) -> dict[str, dict[tuple[str, str], str]]:
    """Per render, every job act lists -> 'ran' or the reason it is covered elsewhere."""
    env = runner_env()
    ran = {name: run_workflows(renders[name], name) for name in renders}
    result: dict[str, dict[tuple[str, str], str]] = {}
    for name, project in renders.items():
        accounted = {}
        for workflow, job in listed_jobs(project, env):
            if workflow in ran[name]:
                accounted[(workflow, job)] = "ran"
            elif workflow in ENVIRONMENT_LIMITED_WORKFLOWS:
                reason = ENVIRONMENT_LIMITED_WORKFLOWS[workflow]
                accounted[(workflow, job)] = f"environment-limited: {reason}"
            elif name != "default" and workflow in SHARED:
                accounted[(workflow, job)] = "covered: byte-identical to the default render's"
            elif name != "default" and workflow in SIGNED_IN:
                accounted[(workflow, job)] = "covered: the default render's, plus cloud sign-in"
            elif name != "default" and workflow == "cd.yml" and job != "deploy":
                accounted[(workflow, job)] = "covered: the default render's cd.yml job"
            elif name != "default" and (workflow, job) == ("cd.yml", "deploy"):
                accounted[(workflow, job)] = f"covered: calls deploy-{name}.yml, run here"
        result[name] = accounted
    return result


def test_every_github_job_is_mapped_and_accounted_for(github_renders: dict[str, Path]) -> None:
    """No job is silently skipped: each runs-on label is mapped to this host (act skips a job
    whose label has no platform), and each job act lists is run or covered elsewhere."""
    for project in github_renders.values():
        for name, workflow in workflows(project):
            for job_id, job in workflow["jobs"].items():
                if "runs-on" in job:
                    assert job["runs-on"] in PLATFORMS, f"{name}:{job_id} runs on {job['runs-on']}"
    env = runner_env()
    accounted = accounted_github(github_renders)
    for name, project in github_renders.items():
        listed = listed_jobs(project, env)
        assert listed == set(accounted[name]), f"{name}: {sorted(listed - set(accounted[name]))}"
    default = github_renders["default"]
    cd_jobs = load(default / ".github/workflows/cd.yml")["jobs"]
    for name in ("aws", "azure"):
        project = github_renders[name]
        for shared in SHARED:
            same = (project / ".github/workflows" / shared).read_bytes()
            assert same == (default / ".github/workflows" / shared).read_bytes(), shared
        # CM and batch scoring sign in to the cloud to read and write its bucket, and
        # otherwise run the jobs that ran in the default render.
        login = f"./.github/actions/{name}-login"
        for signed_in, job in SIGNED_IN.items():
            workflow = load(project / ".github/workflows" / signed_in)
            expected = load(default / ".github/workflows" / signed_in)
            assert without_cloud_login(workflow, job, login) == expected, signed_in
        jobs = load(project / ".github/workflows/cd.yml")["jobs"]
        deploy = jobs.pop("deploy")
        assert jobs == cd_jobs
        assert deploy["uses"] == f"./.github/workflows/deploy-{name}.yml"
        assert deploy["with"]["image"].endswith("${{ needs.image.outputs.digest }}")


def test_only_environment_limited_steps_use_unstubbed_actions(
    github_renders: dict[str, Path],
) -> None:
    """A remote action without a stub may appear only in an environment-limited step."""
    for project in github_renders.values():
        for name, workflow in workflows(project):
            if name in ENVIRONMENT_LIMITED_WORKFLOWS:
                continue  # nothing of it runs here
            for job_id, job in workflow["jobs"].items():
                for step in job.get("steps", []):
                    action = "/".join(str(step.get("uses", "./")).split("@")[0].split("/")[:2])
                    if action.startswith(".") or action in STUB_FOR:
                        continue
                    key = (name, job_id, step_label(step))
                    assert key in ENVIRONMENT_LIMITED_STEPS, f"{key}: {action} has no act stub"
        for action_file in project.glob(".github/actions/*/action.yml"):
            for use in re.findall(r"uses:\s*([^\s#]+)", action_file.read_text(encoding="utf-8")):
                assert "/".join(use.split("@")[0].split("/")[:2]) in STUB_FOR, use


def succeeded_jobs(output: str) -> set[str]:
    return {ln.split("]")[0] + "]" for ln in output.splitlines() if "🏁  Job succeeded" in ln}


def champion_in(store: Path) -> tuple[str, int]:
    """The version the store's champion alias names, and how many versions it holds."""
    with sqlite3.connect(store / "mlflow.db") as db:
        (alias,) = db.execute(
            "SELECT version FROM registered_model_aliases WHERE alias = 'champion'"
        ).fetchone()
        (count,) = db.execute("SELECT COUNT(*) FROM model_versions").fetchone()
    return str(alias), int(count)


def test_rendered_workflows_pass_under_act(
    github_renders: dict[str, Path], tmp_path: Path, record_property: RecordProperty
) -> None:
    env = runner_env()
    store = tmp_path / "store"
    store.mkdir()
    started = time.monotonic()
    versions_before_cd = None
    for name, project in github_renders.items():
        artifacts = tmp_path / "artifacts" / name
        listed = listed_jobs(project, env)
        replaced = mark_not_run(project)
        assert sign_with_a_local_key(project, tmp_path / "keys"), f"{name}: nothing signs"
        for workflow, event, extra in GITHUB_RUNS[name]:
            if workflow == "cd.yml":
                versions_before_cd = champion_in(store)
            args = [event, "-W", f".github/workflows/{workflow}", *extra]
            args += act_args(project, artifacts, store)
            if workflow == "cm.yml":  # CM checks the traffic the champion served
                log = logged_traffic(
                    project, store, tmp_path / "keys", tmp_path / "inference-log", env
                )
                args += ["--var", f"INFERENCE_LOG_URL={log}"]
            began = time.monotonic()
            result = act(project, *args, env=env)
            output = result.stdout + result.stderr
            seconds = time.monotonic() - began
            record_property("wall_time", f"act {name} {workflow}: {seconds:.0f} s")
            assert result.returncode == 0, output[-8000:]
            spec = load(project / ".github/workflows" / workflow)
            done = succeeded_jobs(output)
            for job_id in sorted(j for w, j in listed if w == workflow):
                job = spec["jobs"][job_id]
                # A job that calls a workflow reports its jobs as [<job name>/<called job>].
                if "uses" in job:
                    assert any(d.startswith(f"[{job['name']}/") for d in done), (job_id, done)
                else:
                    assert f"[{spec['name']}/{job['name']}]" in done, (job_id, done)
            called = with_called(project, workflow)
            for line in replaced:
                if line.split(":")[0] in called:
                    assert line.split(":", 1)[1] in output, line
            steps = [
                step
                for w in called
                for job in load(project / ".github/workflows" / w)["jobs"].values()
                for step in job.get("steps", [])
            ]
            if any(  # a job installs the environment
                s.get("uses") == "./.github/actions/uv" and s.get("with", {}).get("sync") != "false"
                for s in steps
            ):
                assert "::warning title=No uv.lock::" in output  # the first push resolved one
    record_property("wall_time", f"act: {time.monotonic() - started:.0f} s")

    default = tmp_path / "artifacts" / "default"
    assert (default / "pipeline-reports/reports/promotion.json").is_file()
    # CM judged the logged traffic against the store's champion: drift, and no skew.
    (summary,) = default.glob("drift-report-*/reports/monitoring/drift_summary.json")
    drift = json.loads(summary.read_text())
    assert drift["drift_detected"], drift
    assert drift["skew"]["rows"] > 0, drift  # re-scored with the champion the runner synced
    assert drift["skew"]["skewed_rows"] == 0, drift
    assert list(default.glob("ct-models-*/models/champion/metadata.json"))
    # CD shipped the store's champion, by alias, and trained nothing into the store.
    assert versions_before_cd is not None
    shipped = json.loads((default / "champion/models/champion/metadata.json").read_text())
    assert champion_in(store) == versions_before_cd
    assert shipped["version"] == versions_before_cd[0]
    assert (default / "champion/uv.lock").is_file()
    # Batch scoring: the store's champion scored the day's batch.
    (scores,) = scores_files(default.glob("batch-scores-*/reports/scores/*.parquet"))
    rows, versions = scores_in(github_renders["default"], scores, env)
    assert rows > 0
    assert versions == {versions_before_cd[0]}


def run_stub(
    tmp_path: Path, stub: str, inputs: dict[str, str], *extra: str
) -> subprocess.CompletedProcess[str]:
    """One job that uses `stub` as `owner/repo@v0` with `inputs`."""
    repo = tmp_path / "repo"
    (repo / ".github/workflows").mkdir(parents=True, exist_ok=True)
    (repo / "pyproject.toml").write_text("[project]\nname = 'x'\nversion = '0'\n")
    action = next(a for a, path in STUB_FOR.items() if path == STUBS / stub)
    workflow = {
        "on": "push",
        "jobs": {"j": {"runs-on": "ubuntu-24.04", "steps": [
            {"if": "env.CREATE == 'yes'", "run": "mkdir -p models && echo model > models/m.txt"},
            {"uses": f"{action}@v0", "with": inputs},
        ]}},
    }  # fmt: skip
    (repo / ".github/workflows/w.yml").write_text(yaml.safe_dump(workflow))
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    args = ["push", "-P", "ubuntu-24.04=-self-hosted", "--no-cache-server", "--pull=false"]
    args += ["--action-offline-mode", "--env", f"ACT_STUB_ARTIFACTS={tmp_path / 'a'}"]
    args += ["--local-repository", f"{action}@v0={STUBS / stub}"]
    return act(repo, *args, *extra, env=runner_env())


def test_upload_artifact_stub_fails_when_nothing_matches(tmp_path: Path) -> None:
    """The stubs check their inputs: a workflow that must upload files that do not exist fails."""
    inputs = {"name": "models", "path": "models/", "if-no-files-found": "error"}
    failed = run_stub(tmp_path, "upload-artifact", inputs)
    assert failed.returncode != 0
    assert "stub upload-artifact: no files found for 'models'" in failed.stdout + failed.stderr
    passed = run_stub(tmp_path, "upload-artifact", inputs, "--env", "CREATE=yes")
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert (tmp_path / "a/models/models/m.txt").read_text() == "model\n"


@pytest.mark.parametrize(
    ("stub", "inputs", "message"),
    [
        (
            "configure-aws-credentials",
            {"aws-region": "eu-west-1"},
            "role-to-assume '' is not a role ARN",
        ),
        (
            "configure-aws-credentials",
            {"role-to-assume": VARIABLES["AWS_DEPLOY_ROLE_ARN"], "aws-region": "eu-west-1",
             "aws-access-key-id": "AKIA0000", "aws-secret-access-key": "x"},
            "a long-lived access key was given",
        ),
        (
            "azure-login",
            {"tenant-id": VARIABLES["AZURE_TENANT_ID"],
             "subscription-id": VARIABLES["AZURE_SUBSCRIPTION_ID"]},
            "client-id '' is not a GUID",
        ),
    ],
    ids=["aws-no-role", "aws-static-key", "azure-no-client-id"],
)  # fmt: skip
def test_cloud_login_stubs_fail_without_their_oidc_inputs(
    tmp_path: Path, stub: str, inputs: dict[str, str], message: str
) -> None:
    result = run_stub(tmp_path, stub, inputs)
    assert result.returncode != 0
    assert message in result.stdout + result.stderr, result.stdout[-3000:]


# ---- GitLab: gitlab-ci-local 4.65.1 (.ci/run installs it; 4.75.1 crashes on Node 20) ------
GITLAB_CI_LOCAL = "4.65.1"
GITLAB_ANSWERS = {"ci": "gitlab", "cloud": "gcp"}
# (pipeline variables) -> the jobs that pipeline must contain (rules evaluated by the runner).
# A merge request from the branch `infra`, which changes the Terraform (GitLab sets no
# CI_COMMIT_BRANCH in merge request pipelines).
MERGE_REQUEST = (
    "CI_PIPELINE_SOURCE=merge_request_event",
    "CI_COMMIT_BRANCH=",
    "CI_MERGE_REQUEST_IID=1",
)
# GitLab's security scanners (its templates' jobs, stand-ins here: see below).
SCANNERS = {"semgrep-sast", "secret_detection", "dependency-scanning"}
GITLAB_PIPELINES = {
    (): {"lint", "test", "pipeline", "champion", "serving-image", "deploy-gcp"}
    | SCANNERS
    | {"container_scanning"},
    MERGE_REQUEST: {"lint", "test", "pipeline", "terraform-gcp"} | SCANNERS,
    ("PIPELINE=ct",): {"ct-train"},
    ("PIPELINE=cm",): {"cm-monitor", "cm-retrain"},
    ("PIPELINE=score",): {"score-batch"},
    ("PIPELINE=template",): {"template-update"},
}
# What runs, in order: CT and CM promote into the shared store, CD's champion job ships
# from it; the cloud jobs run with their environment-limited lines replaced.
GITLAB_RUNS = (
    (("PIPELINE=ct",), ()),
    (("PIPELINE=cm",), ()),
    (("PIPELINE=score",), ()),
    ((), ("champion", "deploy-gcp")),
    (MERGE_REQUEST, ("terraform-gcp",)),
)
GITLAB_COVERED = {
    "lint": "tests/deep/test_deep.py runs its commands (ruff, mypy) on the default render; the "
    "job's wiring (.uv: the first-push lock, uv sync) is that of the jobs that run here",
    "test": "tests/deep/test_deep.py runs the project's tests on the default render; same wiring",
    "pipeline": "extends .train as ct-train does, which runs here; its rules are checked "
    "by the pipeline listing",
}
SCANNER = "runs GitLab's analyzer image (registry.gitlab.com/security-products) on GitLab"
GITLAB_ENVIRONMENT_LIMITED_JOBS = {
    **{job: SCANNER for job in SCANNERS},
    "container_scanning": f"{SCANNER}, on the image serving-image pushed",
    "serving-image": f"{DOCKER} (docker:dind builds and canaries the image) and the "
    "project's container registry: every line of it",
    "template-update": "needs the template's git remote (copier check-update)",
}
GCP_LOGIN = f"bash {STUBS / 'gitlab' / 'gcp-login.sh'}"
GITLAB_ENVIRONMENT_LIMITED_LINES = {
    # (file, job, the line's start): reason; the first cloud line of a job is preceded by
    # the login stub, which checks the OIDC inputs the token exchange would consume.
    (".gitlab/deploy-gcp.yml", "terraform-gcp", "terraform init"): "needs the state bucket (GCP)",
    (".gitlab/deploy-gcp.yml", "terraform-gcp", "terraform validate"): (
        "needs the providers `terraform init` downloads"
    ),
    (".gitlab/deploy-gcp.yml", "terraform-gcp", "terraform plan"): "needs a Google Cloud project",
    (".gitlab/deploy-gcp.yml", "deploy-gcp", "apt-get update"): (
        "installs skopeo into the Cloud SDK image; on this host it would change the machine"
    ),
    (".gitlab/deploy-gcp.yml", "deploy-gcp", "bash deploy/gcp/deploy.sh"): (
        "needs a Google Cloud project (Artifact Registry, Cloud Run)"
    ),
}
GITLAB_VARIABLES = {
    "GCP_PROJECT_ID": "credit-risk-123456",
    "GCP_REGION": "europe-west1",
    "GCP_WORKLOAD_IDENTITY_PROVIDER": (
        "projects/123456789012/locations/global/workloadIdentityPools/gitlab/providers/gitlab"
    ),
    "GCP_PLANNER_SERVICE_ACCOUNT": "ci-plan@credit-risk-123456.iam.gserviceaccount.com",
    "GCP_DEPLOYER_SERVICE_ACCOUNT": "ci-deploy@credit-risk-123456.iam.gserviceaccount.com",
    "TF_STATE_BUCKET": "credit-risk-tfstate",
    "GCP_IMAGE_REPOSITORY": "europe-west1-docker.pkg.dev/credit-risk-123456/serving/api",
    "GCP_SERVICE": "credit-risk",
    # gitlab-ci-local mints no ID tokens (`id_tokens`): a JWT-shaped value stands in.
    "GCP_ID_TOKEN": "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJwcm9qZWN0In0.c2lnbmF0dXJl",
    # serving-image's dotenv report, which the deploy job reads.
    "SERVING_IMAGE": "registry.gitlab.example.com/ml/credit-risk@sha256:" + "0" * 64,
}


def gitlab_ci_local(
    project: Path, variables: tuple[str, ...], *args: str, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    command = ["gitlab-ci-local"]
    for variable in variables:
        command += ["--variable", variable]
        if variable.startswith("PIPELINE="):  # CT, CM and template pipelines are schedules
            command += ["--variable", "CI_PIPELINE_SOURCE=schedule"]
    overridden = {v.split("=")[0] for v in command if v.startswith("CI_")}
    if overridden:
        command += ["--ignore-predefined-vars", ",".join(sorted(overridden))]
    branch = "infra" if variables == MERGE_REQUEST else "main"
    subprocess.run(["git", "checkout", "-q", branch], cwd=project, check=True)
    try:
        return subprocess.run(
            [*command, *args], cwd=project, env=env, capture_output=True, text=True,
            timeout=TIMEOUT, check=False,
        )  # fmt: skip
    finally:
        subprocess.run(["git", "checkout", "-q", "main"], cwd=project, check=True)


@pytest.fixture(scope="module")
def gitlab_render(copier_source: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The gitlab render as a first push (no uv.lock), with the `origin` remote and
    origin/HEAD that gitlab-ci-local reads the project and default branch from."""
    root = tmp_path_factory.mktemp("gitlab")
    project = render_copier(copier_source, GITLAB_ANSWERS, root / "project")
    assert not (project / "uv.lock").exists()
    origin = root / "origin.git"

    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=project, check=True, capture_output=True)

    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(origin)], check=True)
    commit(project)
    git("remote", "add", "origin", str(origin))
    git("push", "-q", "origin", "main")
    git("remote", "set-head", "origin", "main")
    git("checkout", "-q", "-b", "infra")  # the merge request's branch: it changes the Terraform
    with (project / "deploy/gcp/terraform/variables.tf").open("a", encoding="utf-8") as tf:
        tf.write("\n# Reviewed in a merge request.\n")
    git("commit", "-q", "-am", "Terraform: a change to review")
    git("checkout", "-q", "main")
    # gitlab-ci-local derives CI_PROJECT_PATH and the server from the remote's URL.
    git("remote", "set-url", "origin", "https://gitlab.example.com/ml/credit-risk.git")
    seed_gitlab_templates(project)
    return project


# GitLab's security templates (`include: template:`) come from gitlab.com, which this host
# cannot reach. gitlab-ci-local reads an include from its cache when it is there, so each is
# seeded with a stand-in: the jobs the template adds for this project, under the template's
# names, stage (`test`, which the render does not have) and rules (every branch and merge
# request, schedules included), each only echoing that it is environment-limited. What the
# tier checks is ours: the rendered overrides (stages, no scan in scheduled pipelines,
# container scanning only beside the image CD built) give each pipeline its expected jobs.
SCANNER_STAND_IN = {
    "stage": "test",
    "rules": [{"if": '$CI_COMMIT_BRANCH || $CI_PIPELINE_SOURCE == "merge_request_event"'}],
    "script": ["echo 'stand-in for a GitLab template job: environment-limited'"],
}


GITLAB_TEMPLATE_STAND_INS: dict[str, str] = {
    "Jobs/SAST.gitlab-ci.yml": yaml.safe_dump(
        {
            "sast": {"stage": "test", "rules": [{"when": "never"}], "script": ["exit 1"]},
            # Its stage comes from `sast`, as in GitLab's template (which the render overrides).
            "semgrep-sast": {
                "extends": "sast",
                **{k: v for k, v in SCANNER_STAND_IN.items() if k != "stage"},
            },
        }
    ),
    "Jobs/Secret-Detection.gitlab-ci.yml": yaml.safe_dump({"secret_detection": SCANNER_STAND_IN}),
    # The v2 template takes its stage as an input (spec: inputs), as GitLab's does.
    "Jobs/Dependency-Scanning.v2.gitlab-ci.yml": "spec:\n  inputs:\n    stage:\n"
    "      default: test\n---\n"
    + yaml.safe_dump({"dependency-scanning": {**SCANNER_STAND_IN, "stage": "$[[ inputs.stage ]]"}}),
    "Jobs/Container-Scanning.gitlab-ci.yml": yaml.safe_dump(
        {"container_scanning": SCANNER_STAND_IN}
    ),
}


def seed_gitlab_templates(project: Path) -> None:
    """gitlab-ci-local's include cache, seeded with the stand-ins (see above)."""
    cache = project / ".gitlab-ci-local/includes/gitlab.com/gitlab-org/gitlab/-/raw/HEAD"
    included = yaml.load((project / ".gitlab-ci.yml").read_text(), GitLabLoader)["include"]
    templates = {entry["template"] for entry in included if "template" in entry}
    assert templates == set(GITLAB_TEMPLATE_STAND_INS), sorted(templates)
    for template, text in GITLAB_TEMPLATE_STAND_INS.items():
        path = cache / "lib/gitlab/ci/templates" / template
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def mark_gitlab_environment_limited(project: Path) -> list[str]:
    """Replace each environment-limited script line (and every line of an environment-
    limited job) by an echo of its reason, in the working tree; returns what was replaced."""
    replaced = []
    files = {f for f, _, _ in GITLAB_ENVIRONMENT_LIMITED_LINES} | {".gitlab-ci.yml"}
    for name in sorted(files):
        path = project / name
        data = yaml.load(path.read_text(encoding="utf-8"), GitLabLoader)
        for job, reason in GITLAB_ENVIRONMENT_LIMITED_JOBS.items():
            if job in data:
                data[job]["script"] = [
                    "echo " + shlex.quote(f"environment-limited: {job}: {reason}")
                ]
                replaced.append(job)
        for (file, job, start), reason in GITLAB_ENVIRONMENT_LIMITED_LINES.items():
            if file != name:
                continue
            script = data[job]["script"]
            found = [i for i, line in enumerate(script) if line.startswith(start)]
            assert found, f"{file}:{job} has no line starting {start!r} any more"
            (index,) = found
            first = not any(r.startswith(f"{job}: ") for r in replaced)
            script[index] = "echo " + shlex.quote(f"environment-limited: {start}: {reason}")
            if first:
                script.insert(index, GCP_LOGIN)
            replaced.append(f"{job}: {start}")
        text = yaml.dump(data, Dumper=GitLabDumper, sort_keys=False, width=1000)
        path.write_text(text, encoding="utf-8")
    return replaced


def seeded_uv_cache(directory: Path) -> Path:
    """A uv cache whose entries are hard links to the machine's: a job may prune it freely."""
    machine = Path(
        subprocess.run(
            ["uv", "cache", "dir"], capture_output=True, text=True, check=True
        ).stdout.strip()
    )
    directory.mkdir(parents=True)
    for part in ("archive-v0", "wheels-v8", "simple-v28"):
        if (machine / part).is_dir():
            hard_link_tree(machine / part, directory / part)
    return directory


def hard_link_tree(source: Path, target: Path) -> None:
    """`cp -al source target`, minus uv's in-flight temporaries (`.tmp*`): another test's
    `uv sync` may create and remove them while this copies (cp then failed, once)."""
    for root, directories, files in os.walk(source):
        here = Path(root)
        (target / here.relative_to(source)).mkdir(exist_ok=True)
        directories[:] = [d for d in directories if not d.startswith(".tmp")]
        # A symlink to a directory is listed among the directories; os.walk does not follow it.
        links = [d for d in directories if (here / d).is_symlink()]
        directories[:] = [d for d in directories if d not in links]
        for name in [*files, *links]:
            if name.startswith(".tmp"):
                continue
            try:
                os.link(
                    here / name, target / here.relative_to(source) / name, follow_symlinks=False
                )
            except FileNotFoundError:  # removed since listed: uv replaced it
                continue


def test_gitlab_ci_local_is_the_tested_version() -> None:
    found = subprocess.run(["gitlab-ci-local", "--version"], capture_output=True, text=True)
    assert found.stdout.strip() == GITLAB_CI_LOCAL, "run .ci/run to install it"


def gitlab_jobs(project: Path, variables: tuple[str, ...]) -> set[str]:
    listed = gitlab_ci_local(project, variables, "--list-csv", env=runner_env())
    assert listed.returncode == 0, listed.stdout + listed.stderr
    rows = listed.stdout.split("name;description;", 1)[1].splitlines()[1:]
    return {row.split(";")[0] for row in rows if row}


def test_every_gitlab_pipeline_has_its_jobs_and_each_is_accounted_for(
    gitlab_render: Path,
) -> None:
    every = set()
    for variables, expected in GITLAB_PIPELINES.items():
        jobs = gitlab_jobs(gitlab_render, variables)
        assert jobs == expected, f"{variables}: {sorted(jobs)}"
        every |= jobs
    ran = {j for v, named in GITLAB_RUNS for j in (named or GITLAB_PIPELINES[v])}
    accounted = ran | set(GITLAB_COVERED) | set(GITLAB_ENVIRONMENT_LIMITED_JOBS)
    assert every == accounted, f"{sorted(every ^ accounted)}"
    assert not ran & (set(GITLAB_COVERED) | set(GITLAB_ENVIRONMENT_LIMITED_JOBS))


def test_rendered_gitlab_pipelines_pass_under_gitlab_ci_local(
    gitlab_render: Path, tmp_path: Path, record_property: RecordProperty
) -> None:
    """CT, CM (cm-monitor hands DRIFT to cm-retrain through a dotenv report), CD's champion
    job and the GCP jobs, for real. No --shell-isolation: it wipes a job's outputs before
    the artifacts are collected."""
    env = runner_env()
    store = tmp_path / "store"
    store.mkdir()
    replaced = mark_gitlab_environment_limited(gitlab_render)
    shared = [f"MLFLOW_TRACKING_URI=sqlite:///{store / 'mlflow.db'}"]
    shared += [f"{k}={v}" for k, v in GITLAB_VARIABLES.items()]
    # Keyless signing needs Sigstore: the test's own key pair signs (see local_signing).
    shared += [f"{k}={v}" for k, v in local_signing(tmp_path / "keys").items()]
    # The shell executor runs the jobs in the project directory itself.
    shared += [f"CI_PROJECT_DIR={gitlab_render}"]
    started = time.monotonic()
    outputs: list[str] = []
    versions_before_cd = None
    for variables, jobs in GITLAB_RUNS:
        if "champion" in jobs:
            versions_before_cd = champion_in(store)
        # The jobs prune their uv cache (`uv cache prune --ci`), as in GitLab: each run gets
        # a cache of its own, hard links to the machine's (so nothing is downloaded again).
        cache = seeded_uv_cache(tmp_path / f"uv-cache-{len(outputs)}")
        arguments = [a for v in [*shared, f"UV_CACHE_DIR={cache}"] for a in ("--variable", v)]
        if variables == ("PIPELINE=cm",):  # CM checks the traffic the champion served
            log = logged_traffic(
                gitlab_render, store, tmp_path / "keys", tmp_path / "inference-log", env
            )
            arguments += ["--variable", f"{SETTINGS_PREFIX}_INFERENCE_LOG__URL={log}"]
        began = time.monotonic()
        result = gitlab_ci_local(
            gitlab_render, variables, "--force-shell-executor", *arguments, *jobs, env=env
        )
        label = " ".join(variables + jobs) or "default branch"
        record_property("wall_time", f"gitlab-ci-local {label}: {time.monotonic() - began:.0f} s")
        output = result.stdout + result.stderr
        assert result.returncode == 0, output[-8000:]
        for job in jobs or GITLAB_PIPELINES[variables]:
            assert f"PASS  {job}" in output, f"{job} did not pass:\n{output[-4000:]}"
        outputs.append(output)
    record_property("wall_time", f"gitlab-ci-local: {time.monotonic() - started:.0f} s")
    everything = "\n".join(outputs)
    assert "WARNING: no uv.lock" in everything  # the first push resolved a lock
    for line in replaced:
        if line in GITLAB_ENVIRONMENT_LIMITED_JOBS:
            continue
        assert f"environment-limited: {line.split(': ', 1)[1]}" in everything, line
    assert everything.count("stub gcp-login: OIDC via") == 2  # terraform-gcp and deploy-gcp
    assert "terraform fmt -check -diff" in everything
    # cm-monitor found drift in the logged traffic; cm-retrain saw the DRIFT that its dotenv
    # report passed on.
    assert "Drift detected: cm-retrain will retrain." in everything
    assert '"promote":' in outputs[1]  # cm-retrain printed its promotion decision
    # CD's champion job shipped the store's champion and trained nothing into the store.
    artifacts = gitlab_render / ".gitlab-ci-local/artifacts/champion"
    shipped = json.loads((artifacts / "models/champion/metadata.json").read_text())
    assert versions_before_cd is not None
    assert champion_in(store) == versions_before_cd
    assert shipped["version"] == versions_before_cd[0]
    assert (artifacts / "uv.lock").is_file()
    # score-batch: the store's champion scored the day's batch.
    kept = gitlab_render / ".gitlab-ci-local/artifacts/score-batch"
    (scores,) = scores_files(kept.glob("reports/scores/*.parquet"))
    rows, versions = scores_in(gitlab_render, scores, env)
    assert rows > 0
    assert versions == {versions_before_cd[0]}
