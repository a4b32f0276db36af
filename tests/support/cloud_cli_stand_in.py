"""Stand-in for the cloud CLIs (terraform, docker, gcloud, az) that `make gcp-train` and
`make azure-train` call in tests/deep/test_deep_cloud_training.py.

The test copies this file onto PATH once per tool name, run by the template's interpreter
(it needs PyYAML). Each call is logged (one JSON line: the tool and its arguments) and
emulated the way the cloud would answer the training targets' calls; any other call fails
loudly. Uploads land in a local directory that plays the bucket (container), and a submitted
job runs as the service runs it, from the job specification the target wrote: its command
in a fresh working directory, with its environment and its storage paths mapped onto that
directory. Configured by the test through STAND_IN_* environment variables.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml


class Call:
    """One invocation: the tool (the name this file was run as), its arguments and the
    settings the test passed in the environment."""

    def __init__(self, argv: Sequence[str]) -> None:
        self.tool, self.args = Path(argv[0]).name, list(argv[1:])
        self.storage = Path(os.environ["STAND_IN_STORAGE"])
        self.project = Path(os.environ["STAND_IN_PROJECT"])
        self.workdir = Path(os.environ["STAND_IN_WORKDIR"])
        self.cli = os.environ["STAND_IN_CLI"]
        self.prefix = os.environ["STAND_IN_ENV_PREFIX"]
        self.outputs: dict[str, str] = json.loads(os.environ["STAND_IN_OUTPUTS"])

    def option(self, name: str) -> str:
        for i, arg in enumerate(self.args):
            if arg == name:
                return self.args[i + 1]
            if arg.startswith(name + "="):
                return arg.split("=", 1)[1]
        sys.exit(f"{self.tool}: {name} missing in {self.args}")

    def run_job(self, command: list[str], env: Mapping[str, str], image: str) -> int:
        """Run a job as the training image would: its command, a fresh working directory,
        the image's params.yaml and contract.yaml, the environment `docker build --target
        training` installs."""
        assert image.startswith(os.environ["STAND_IN_IMAGE_REPOSITORY"] + ":"), image
        self.workdir.mkdir(parents=True, exist_ok=True)
        job_env = {
            **os.environ,
            **env,
            f"{self.prefix}PARAMS": str(self.project / "params.yaml"),
            f"{self.prefix}CONTRACT": str(self.project / "contract.yaml"),
        }
        job_env.pop("VIRTUAL_ENV", None)
        job_env["PATH"] = str(self.project / ".venv" / "bin") + os.pathsep + job_env["PATH"]
        return subprocess.run(command, cwd=self.workdir, env=job_env, check=False).returncode


def vertex_ai_custom_job(call: Call) -> None:
    """`gcloud ai custom-jobs create --config`: run the worker pool's container."""
    spec = yaml.safe_load(Path(call.option("--config")).read_text(encoding="utf-8"))
    assert spec["serviceAccount"] == call.outputs["trainer_service_account"], spec
    (pool,) = spec["workerPoolSpecs"]
    container = pool["containerSpec"]
    # Vertex AI mounts every bucket of the project at /gcs/<bucket> (Cloud Storage FUSE).
    env = {e["name"]: re.sub("^/gcs/", f"{call.storage}/", e["value"]) for e in container["env"]}
    command = container.get("command", [call.cli]) + container.get("args", ["pipeline"])
    code = call.run_job(command, env, container["imageUri"])
    Path(f"{call.workdir}.state").write_text(
        "JOB_STATE_SUCCEEDED" if code == 0 else "JOB_STATE_FAILED"
    )
    print("projects/1/locations/" + call.option("--region") + "/customJobs/1")


def azure_ml_command_job(call: Call) -> int:
    """`az ml job create --file ... --set k=v`: run the command job with its datastore
    files and folders mounted (from the stand-in storage)."""
    job: dict[str, Any] = yaml.safe_load(Path(call.option("--file")).read_text(encoding="utf-8"))
    for i, arg in enumerate(call.args):
        if arg == "--set":
            key, value = call.args[i + 1].split("=", 1)
            *parents, last = key.split(".")
            node = job
            for part in parents:
                node = node.setdefault(part, {})
            node[last] = value
    assert job["type"] == "command", job
    assert job["identity"] == {"type": "managed"}, job
    assert job["compute"] == "azureml:training", job["compute"]
    account = call.outputs["storage_account"]

    def mounted(spec: Mapping[str, str]) -> str:  # a datastore file or folder, as Azure ML
        match = re.fullmatch(r"azureml://datastores/artifacts/paths/(.+)", spec["path"])
        assert match, spec
        path = call.storage / account / "artifacts" / match[1]
        if spec["type"] == "uri_file":  # mounted as it is: it must be there
            assert path.is_file(), f"no such file in the datastore: {spec['path']}"
        else:
            path.mkdir(parents=True, exist_ok=True)
        return str(path)

    command: str = job["command"]
    for kind in ("inputs", "outputs"):
        for name, spec in job.get(kind, {}).items():
            command = command.replace("${{" + f"{kind}.{name}" + "}}", mounted(spec))
    variables = job.get("environment_variables", {})
    return call.run_job(["sh", "-c", command], variables, job["environment"]["image"])


def upload(source: str, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(source, target)


def main(argv: Sequence[str]) -> int | str:
    """Emulate one call; the exit status (or the message of a refused call)."""
    call = Call(argv)
    tool, args = call.tool, call.args
    with open(os.environ["STAND_IN_LOG"], "a", encoding="utf-8") as log:
        log.write(json.dumps([tool, *args]) + "\n")
    if tool == "terraform":
        assert args[0].startswith("-chdir=deploy/"), args
        assert args[1:3] == ["output", "-raw"], args
        print(call.outputs[args[3]], end="")
    elif tool == "docker":
        assert args[0] in {"build", "push"}, args
    elif tool == "gcloud" and args[:2] == ["auth", "configure-docker"]:
        pass
    elif tool == "gcloud" and args[:2] == ["storage", "cp"]:
        upload(args[2], call.storage / args[3].removeprefix("gs://"))
    elif tool == "gcloud" and args[:3] == ["ai", "custom-jobs", "create"]:
        vertex_ai_custom_job(call)
    elif tool == "gcloud" and args[:3] == ["ai", "custom-jobs", "stream-logs"]:
        pass
    elif tool == "gcloud" and args[:3] == ["ai", "custom-jobs", "describe"]:
        print(Path(f"{call.workdir}.state").read_text())
    elif tool == "az" and args[:2] == ["acr", "login"]:
        pass
    elif tool == "az" and args[:3] == ["storage", "blob", "upload"]:
        container = call.option("--container-name")
        target = call.storage / call.option("--account-name") / container / call.option("--name")
        upload(call.option("--file"), target)
    elif tool == "az" and args[:3] == ["ml", "job", "create"]:
        return azure_ml_command_job(call)
    else:
        return f"stand-in {tool}: unexpected call {args}"
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
