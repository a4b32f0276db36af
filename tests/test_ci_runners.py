"""The real-runner tier: the rendered CI runs under real runners, its jobs on this host.

GitHub: the default render's workflows under act. GitLab: the gitlab render's pipelines
under gitlab-ci-local (shell executor).

Schemas and actionlint say a workflow is well-formed; only a runner says it works. act runs
the jobs on this host (`-P ubuntu-24.04=-self-hosted`), offline (`--no-cache-server
--action-offline-mode --pull=false`), with every remote action replaced by a local composite
stub (tests/act_stubs/, via `--local-repository owner/repo@sha=DIR`) that does the honest
local equivalent and checks its inputs: checkout fetches the commit under test from the
local repository, setup-uv requires the pinned uv version, upload-artifact copies the files
and fails when `if-no-files-found: error` matches nothing.

The render is committed without uv.lock, as a new project's first push is: every job that
ran proves the first push passes.

Every job `act -l` lists (and every job of every GitLab pipeline) is either run here, and
must succeed, or named below with the reason it is not: environment-limited (a Docker
engine, a registry, a cloud or GitHub account) or covered by tests/test_deep.py, which runs
the same make targets on the same render (running them again would double the deep tier's
time for no new property).
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from rendering import OFFLINE_ENV, python_env, render_copier

pytestmark = pytest.mark.deep

STUBS = Path(__file__).resolve().parent / "act_stubs"
STUB_FOR = {
    "actions/checkout": STUBS / "checkout",
    "astral-sh/setup-uv": STUBS / "setup-uv",
    "actions/upload-artifact": STUBS / "upload-artifact",
}
# Every runs-on label of the rendered workflows, mapped to this host.
PLATFORMS = {"ubuntu-24.04": "-self-hosted"}
ACT_TIMEOUT = 1800

# (workflow file, event, job id or None for the whole workflow): one act run each.
RUNS = (
    ("ci.yml", "pull_request", "pipeline"),
    ("ct.yml", "workflow_dispatch", None),
    ("cm.yml", "workflow_dispatch", None),
)
COVERED = {
    ("ci.yml", "lint"): "tests/test_deep.py runs make lint and make typecheck on this render; "
    "the job's wiring (checkout, .github/actions/uv, a make target) is the pipeline job's",
    ("ci.yml", "test"): "tests/test_deep.py runs make test on this render; same wiring as "
    "the pipeline job",
    ("cd.yml", "ci"): "calls ci.yml, whose jobs are run or covered above",
}
ENVIRONMENT_LIMITED = {
    ("cd.yml", "image"): "needs a Docker engine (buildx, docker run for the canary), "
    "ghcr.io and GitHub's OIDC token for the provenance attestation",
    ("template-update.yml", "check"): "needs the template's git remote (copier "
    "check-update) and a GitHub account (gh issue create)",
}


def act(project: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["act", *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=ACT_TIMEOUT,
        check=False,
    )


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


def workflows(project: Path) -> Iterator[tuple[str, dict]]:
    for path in sorted((project / ".github/workflows").glob("*.yml")):
        yield path.name, yaml.safe_load(path.read_text(encoding="utf-8"))


def remote_actions(project: Path) -> set[tuple[str, str]]:
    """(owner/repo, ref) of every remote action the workflows and local actions use."""
    paths = [*project.glob(".github/workflows/*.yml")]
    paths += project.glob(".github/actions/*/action.yml")
    found = set()
    for path in paths:
        for use in re.findall(r"uses:\s*([^\s#]+)", path.read_text(encoding="utf-8")):
            if not use.startswith("./"):
                repo, ref = use.split("@")
                found.add(("/".join(repo.split("/")[:2]), ref))
    return found


def act_env() -> dict[str, str]:
    env = python_env() | OFFLINE_ENV
    env |= {"UV_PYTHON_DOWNLOADS": "never", "NO_COLOR": "1", "UV_NO_PROGRESS": "1"}
    env.pop("CI", None)  # act sets the runner's CI variables itself
    return env


@pytest.fixture(scope="module")
def first_push(copier_source: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default render, committed as a new project's first push (no uv.lock)."""
    project = render_copier(copier_source, {}, tmp_path_factory.mktemp("act") / "project")
    assert not (project / "uv.lock").exists()
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=project, check=True)
    subprocess.run(["git", "add", "-A"], cwd=project, check=True)
    subprocess.run(["git", "commit", "-q", "-m", "first push"], cwd=project, check=True)
    return project


def act_args(project: Path, artifacts: Path) -> list[str]:
    args = ["--no-skip-checkout", "--no-cache-server", "--action-offline-mode", "--pull=false"]
    for label, platform in PLATFORMS.items():
        args += ["-P", f"{label}={platform}"]
    for repo, ref in sorted(remote_actions(project)):
        if repo in STUB_FOR:
            args += ["--local-repository", f"{repo}@{ref}={STUB_FOR[repo]}"]
    args += ["--env", f"ACT_STUB_ARTIFACTS={artifacts}", "--env", f"ACT_STUB_REPOSITORY={project}"]
    return args


def test_every_job_is_mapped_and_accounted_for(first_push: Path) -> None:
    """No job is silently skipped: each runs-on label is mapped to this host (act skips a job
    whose label has no platform), and each job is run here or named with its reason."""
    for name, workflow in workflows(first_push):
        for job_id, job in workflow["jobs"].items():
            if "runs-on" in job:
                assert job["runs-on"] in PLATFORMS, f"{name}:{job_id} runs on {job['runs-on']}"
    listed = listed_jobs(first_push, act_env())
    whole = {w for w, _, j in RUNS if j is None}
    run = {(w, j) for w, _, j in RUNS if j} | {(w, j) for w, j in listed if w in whole}
    accounted = run | set(COVERED) | set(ENVIRONMENT_LIMITED)
    assert listed == accounted, (
        f"not accounted for: {sorted(listed - accounted)}; gone: {sorted(accounted - listed)}"
    )
    assert not set(COVERED) & set(ENVIRONMENT_LIMITED)


def test_jobs_that_run_use_only_stubbed_remote_actions(first_push: Path) -> None:
    """The environment-limited image job's Docker and attestation actions are the only
    remote actions without a stub; everything the run jobs use is stubbed."""
    image_job = yaml.safe_load((first_push / ".github/workflows/cd.yml").read_text())["jobs"]
    image_uses = {s["uses"].split("@")[0] for s in image_job["image"]["steps"] if "uses" in s}
    unstubbed = {repo for repo, _ in remote_actions(first_push)} - set(STUB_FOR)
    assert unstubbed <= image_uses, f"remote actions without an act stub: {unstubbed}"


def test_rendered_workflows_pass_under_act(
    first_push: Path, tmp_path: Path, record_property: pytest.RecordProperty
) -> None:
    artifacts = tmp_path / "artifacts"
    env = act_env()
    listed = listed_jobs(first_push, env)
    start = time.monotonic()
    for workflow, event, job in RUNS:
        args = [event, "-W", f".github/workflows/{workflow}", *act_args(first_push, artifacts)]
        if job:
            args += ["-j", job]
        began = time.monotonic()
        result = act(first_push, *args, env=env)
        output = result.stdout + result.stderr
        record_property("wall_time", f"act {workflow}: {time.monotonic() - began:.0f} s")
        assert result.returncode == 0, output[-6000:]
        names = yaml.safe_load((first_push / ".github/workflows" / workflow).read_text())
        jobs = [job] if job else [j for w, j in listed if w == workflow]
        for job_id in jobs:
            spec = names["jobs"][job_id]
            # A job that calls a workflow reports its called jobs as [<job name>/<workflow>/...].
            label = spec["name"] + "/" if "uses" in spec else f"{names['name']}/{spec['name']}]"
            succeeded = [ln for ln in output.splitlines() if "🏁  Job succeeded" in ln]
            assert any(ln.startswith(f"[{label}") for ln in succeeded), (
                f"{label} did not run:\n{output[-4000:]}"
            )
        assert "::warning title=No uv.lock::" in output  # the first push resolved a lock
    record_property("wall_time", f"act tier: {time.monotonic() - start:.0f} s")
    # The artifacts the workflows promise, with the files in them.
    assert (artifacts / "pipeline-reports/reports/promotion.json").is_file()
    assert (artifacts / "serving-model/uv.lock").is_file()
    assert list(artifacts.glob("ct-models-*/models/champion/metadata.json"))
    assert list(artifacts.glob("drift-report-*/reports/monitoring/drift_summary.json"))


def test_upload_artifact_stub_fails_when_nothing_matches(tmp_path: Path) -> None:
    """The stubs check their inputs: a workflow that must upload files that do not exist fails."""
    repo = tmp_path / "repo"
    (repo / ".github/workflows").mkdir(parents=True)
    (repo / "pyproject.toml").write_text("[project]\nname = 'x'\nversion = '0'\n")
    (repo / ".github/workflows/w.yml").write_text(
        "on: push\n"
        "jobs:\n"
        "  upload:\n"
        "    runs-on: ubuntu-24.04\n"
        "    steps:\n"
        "      - if: env.CREATE == 'yes'\n"
        "        run: mkdir -p models && echo model > models/m.txt\n"
        "      - uses: actions/upload-artifact@v0\n"
        "        with: {name: models, path: models/, if-no-files-found: error}\n"
    )
    env = act_env()
    args = ["push", "-P", "ubuntu-24.04=-self-hosted", "--no-cache-server", "--pull=false"]
    args += ["--action-offline-mode", "--env", f"ACT_STUB_ARTIFACTS={tmp_path / 'a'}"]
    stub = STUB_FOR["actions/upload-artifact"]
    args += ["--local-repository", f"actions/upload-artifact@v0={stub}"]
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    failed = act(repo, *args, env=env)
    assert failed.returncode != 0
    assert "stub upload-artifact: no files found for 'models'" in failed.stdout + failed.stderr
    passed = act(repo, *args, "--env", "CREATE=yes", env=env)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert (tmp_path / "a/models/models/m.txt").read_text() == "model\n"


# ---- GitLab: gitlab-ci-local 4.65.1 (.ci/run installs it; 4.75.1 crashes on Node 20) ------
GITLAB_CI_LOCAL = "4.65.1"
# PIPELINE value -> the jobs its pipeline must contain (rules evaluated by gitlab-ci-local).
GITLAB_PIPELINES = {
    "": {"lint", "test", "pipeline", "serving-image"},
    "ct": {"ct-train"},
    "cm": {"cm-monitor", "cm-retrain"},
    "template": {"template-update"},
}
GITLAB_RUN = "cm"  # the pipeline run for real: monitor, the dotenv hand-over, retrain
GITLAB_COVERED = {
    "lint": COVERED[("ci.yml", "lint")],
    "test": COVERED[("ci.yml", "test")],
    "pipeline": "extends .train as cm-retrain does, which runs here ($CLI pipeline and "
    "the .train artifacts); its rules are checked by the pipeline listing",
    "ct-train": "extends .train as cm-retrain does, which runs here; its rules are "
    "checked by the pipeline listing",
}
GITLAB_ENVIRONMENT_LIMITED = {
    "serving-image": "needs a Docker engine (docker:dind builds and canaries the image) "
    "and the project's container registry",
    "template-update": "needs the template's git remote (copier check-update)",
}


def gitlab_ci_local(
    project: Path, pipeline: str, *args: str, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    variables = ["--variable", f"PIPELINE={pipeline}"]
    if pipeline:  # CT, CM and template pipelines are schedules
        variables += ["--variable", "CI_PIPELINE_SOURCE=schedule"]
        variables += ["--ignore-predefined-vars", "CI_PIPELINE_SOURCE"]
    return subprocess.run(
        ["gitlab-ci-local", *variables, *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=ACT_TIMEOUT,
        check=False,
    )


@pytest.fixture(scope="module")
def gitlab_first_push(copier_source: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The gitlab render as a first push (no uv.lock), with the `origin` remote and
    origin/HEAD that gitlab-ci-local reads the project and default branch from."""
    root = tmp_path_factory.mktemp("gitlab")
    project = render_copier(copier_source, {"ci": "gitlab"}, root / "project")
    assert not (project / "uv.lock").exists()
    origin = root / "origin.git"

    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=project, check=True, capture_output=True)

    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(origin)], check=True)
    git("init", "-q", "-b", "main")
    git("add", "-A")
    git("commit", "-q", "-m", "first push")
    git("remote", "add", "origin", str(origin))
    git("push", "-q", "origin", "main")
    git("remote", "set-head", "origin", "main")
    # gitlab-ci-local derives CI_PROJECT_PATH and the server from the remote's URL.
    git("remote", "set-url", "origin", "https://gitlab.example.com/ml/credit-risk.git")
    return project


def test_gitlab_ci_local_is_the_tested_version() -> None:
    found = subprocess.run(["gitlab-ci-local", "--version"], capture_output=True, text=True)
    assert found.stdout.strip() == GITLAB_CI_LOCAL, "run .ci/run to install it"


def test_every_gitlab_pipeline_has_its_jobs_and_each_is_accounted_for(
    gitlab_first_push: Path,
) -> None:
    env = act_env()
    every = set()
    for pipeline, expected in GITLAB_PIPELINES.items():
        listed = gitlab_ci_local(gitlab_first_push, pipeline, "--list-csv", env=env)
        assert listed.returncode == 0, listed.stdout + listed.stderr
        rows = listed.stdout.split("name;description;", 1)[1].splitlines()[1:]
        jobs = {row.split(";")[0] for row in rows if row}
        assert jobs == expected, f"PIPELINE={pipeline!r}: {sorted(jobs)}"
        every |= jobs
    accounted = set(GITLAB_PIPELINES[GITLAB_RUN]) | set(GITLAB_COVERED)
    accounted |= set(GITLAB_ENVIRONMENT_LIMITED)
    assert every == accounted, f"{sorted(every ^ accounted)}"


def test_rendered_gitlab_pipeline_passes_under_gitlab_ci_local(
    gitlab_first_push: Path, tmp_path: Path, record_property: pytest.RecordProperty
) -> None:
    """The CM pipeline, for real: cm-monitor hands DRIFT to cm-retrain through a dotenv
    report, and cm-retrain retrains. No --shell-isolation: it wipes a job's outputs before
    the artifacts are collected."""
    env = act_env()
    began = time.monotonic()
    # A cache of the run's own: the jobs prune it (`uv cache prune --ci`) as in GitLab.
    result = gitlab_ci_local(
        gitlab_first_push,
        GITLAB_RUN,
        "--force-shell-executor",
        "--variable",
        f"UV_CACHE_DIR={tmp_path / 'uv-cache'}",
        env=env,
    )
    record_property("wall_time", f"gitlab-ci-local PIPELINE=cm: {time.monotonic() - began:.0f} s")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    for job in GITLAB_PIPELINES[GITLAB_RUN]:
        assert f"PASS  {job}" in output, f"{job} did not pass:\n{output[-4000:]}"
    assert "WARNING: no uv.lock" in output  # the first push resolved a lock
    # cm-retrain sees the DRIFT that cm-monitor's dotenv report passed on.
    if "Drift detected: cm-retrain will retrain." in output:
        assert "No drift: the champion stays." not in output
        assert '"promote":' in output  # cm-retrain printed its promotion decision
        retrained = gitlab_first_push / ".gitlab-ci-local/artifacts/cm-retrain"
        assert (retrained / "reports/promotion.json").is_file()
        assert (retrained / "uv.lock").is_file()  # what serving-image would build with
    else:
        assert "No drift: the champion stays." in output
