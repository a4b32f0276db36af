"""What the deep tiers share: a rendered project installed with uv and run as its user would
run it (commands, its API on a free local port, its example request).

Each command runs in the project's own environment (offline, every supported interpreter
visible, nothing of the template's virtual environment leaking in) and fails the test with
its output when it fails.
"""

from __future__ import annotations

import json
import socket
import ssl
import subprocess
import sys
import threading
import time
import tomllib
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from support.rendering import OFFLINE_ENV, python_env, render_copier
from support.reporting import RecordProperty

DRIFT_EXIT_CODE = 3
READY_TIMEOUT = 90  # seconds for the API to load the champion and answer /ready
SERVER_TIMEOUT = 60  # seconds for a tool's local server (uvx's, Azurite) to answer
COMMAND_TIMEOUT = 1800  # seconds for any one command (uv sync, make test, make pipeline)
# The render's own pytest, in its environment as installed, keeping no cache: the render is
# left as the user would find it.
RENDER_PYTEST = ["uv", "run", "--no-sync", "pytest", "-q", "-p", "no:cacheprovider"]
# The folder of the reversed_collection pytest plugin, alone so that putting it on the
# render's PYTHONPATH exposes nothing else.
REVERSED_COLLECTION = Path(__file__).parent / "order"


# A render's environment compiles its bytecode as modules are first imported, not ahead:
# `make setup`'s `uv sync --compile-bytecode` compiles the whole environment (31,500 files,
# 30 s of both cores for the default render) where its tests import a tenth of it (the
# default suite: 95 s after the full compile, 73 s compiling on import). The one other
# difference: the process that first imports a library would print the SyntaxWarnings that
# compileall keeps quiet (Evidently's docstrings), which this environment ignores.
LAZY_BYTECODE = {"PYTHONWARNINGS": "ignore:invalid escape sequence:SyntaxWarning"}


def project_env(project: Path) -> dict[str, str]:
    """Offline, with every supported interpreter visible, and no environment of ours leaking
    into the project's (the tests run inside the template's own virtual environment)."""
    env = {**python_env(), **OFFLINE_ENV, **LAZY_BYTECODE}
    for name in (
        "VIRTUAL_ENV",
        "UV_PROJECT_ENVIRONMENT",
        "PYTHONPATH",
        "MLFLOW_TRACKING_URI",
        "PYTHONDONTWRITEBYTECODE",
    ):
        env.pop(name, None)
    env["PWD"] = str(project)
    return env


def run(
    command: Sequence[str], project: Path, env: Mapping[str, str], *, check: bool = True
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        list(command),
        cwd=project,
        env=dict(env),
        capture_output=True,
        text=True,
        check=False,
        timeout=COMMAND_TIMEOUT,
    )
    if check and result.returncode != 0:
        pytest.fail(
            f"`{' '.join(command)}` exited {result.returncode} in {project}\n"
            f"--- stdout ---\n{result.stdout[-6000:]}\n--- stderr ---\n{result.stderr[-6000:]}"
        )
    return result


def timed(
    command: Sequence[str],
    project: Path,
    env: Mapping[str, str],
    record_property: RecordProperty,
    label: str,
) -> subprocess.CompletedProcess[str]:
    start = time.perf_counter()
    result = run(command, project, env)
    seconds = time.perf_counter() - start
    record_property("wall_time", f"{label}: {seconds:.1f} s")
    print(f"{label}: {seconds:.1f} s")
    return result


def suite_in_reverse_order(
    project: Path, env: Mapping[str, str], record_property: RecordProperty, label: str
) -> None:
    """The render's whole suite in one process, in reverse order: a test that passes only
    because another ran before it in pytest's order (a variable, a file or a registry left
    behind) fails here. The reversal is a plugin from outside the render."""
    timed(
        [*RENDER_PYTEST, "-p", "reversed_collection"],
        project,
        {**env, "PYTHONPATH": str(REVERSED_COLLECTION)},
        record_property,
        f"{label}: make test's suite in reverse order",
    )


def require_interpreter(version: str, project: Path, env: Mapping[str, str]) -> None:
    """Fail (never skip) when uv can neither find nor download the project's Python."""
    found = run(["uv", "python", "find", version], project, env, check=False)
    if found.returncode == 0:
        return
    downloads = env.get("UV_PYTHON_DOWNLOADS", "automatic")
    if downloads in {"never", "manual"}:
        pytest.fail(
            f"no Python {version} interpreter found and UV_PYTHON_DOWNLOADS={downloads}: "
            f"install Python {version} (e.g. `pyenv install {version}`) or allow uv to "
            f"download it (unset UV_PYTHON_DOWNLOADS).\n{found.stderr}"
        )


class Installed(NamedTuple):
    """A rendered project with its environment synced."""

    project: Path
    env: dict[str, str]
    cli: str  # the console script, as the rendered pyproject.toml declares it (credit-risk)
    package: str  # the import name (credit_risk)


def installed_project(source: Path, answers: Mapping[str, str], destination: Path) -> Installed:
    """Render with Copier, check the interpreter the project asks for, and install it as
    `make setup` does (without the pre-commit hooks)."""
    project = render_copier(source, answers, destination)
    env = project_env(project)
    scripts = tomllib.loads((project / "pyproject.toml").read_text("utf-8"))["project"]["scripts"]
    ((cli, entry_point),) = scripts.items()
    require_interpreter(answers["python_version"], project, env)
    run(["uv", "sync"], project, env)  # `make setup` but its --compile-bytecode: see LAZY_BYTECODE
    return Installed(project, env, cli, entry_point.split(".")[0])


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http(method: str, url: str, body: Any = None) -> tuple[int, str]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


@contextmanager
def local_http_server(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """`handler` answering on a free local port, in a thread, as `127.0.0.1:port`."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)  # the system picks the port
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def served(
    command: Sequence[str],
    probe: urllib.request.Request,
    log: Path,
    context: ssl.SSLContext | None = None,
    graceful: bool = True,
) -> Iterator[None]:
    """A tool's local server (`command`), from the moment `probe` succeeds (with `context`
    over HTTPS) to the end of the block, then asked to stop (killed if not `graceful`); its
    log shown if it never answers."""
    with log.open("w", encoding="utf-8") as output:
        server = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + SERVER_TIMEOUT
            while True:
                try:
                    with urllib.request.urlopen(probe, timeout=5, context=context) as response:
                        assert 200 <= response.status < 300
                    break
                except OSError:
                    if server.poll() is not None or time.monotonic() > deadline:
                        pytest.fail(f"{command[0]} did not start:\n{log.read_text('utf-8')}")
                    time.sleep(0.5)
            yield
        finally:
            if graceful:
                server.terminate()
            else:
                server.kill()
            server.wait(timeout=15)


@contextmanager
def served_by_uvx(
    package: str, command: Sequence[str], probe: urllib.request.Request, log: Path
) -> Iterator[None]:
    """A Python tool's local server, `uvx --from PACKAGE COMMAND` (not a dependency of
    anything): see `served`."""
    uvx = Path(sys.executable).with_name("uvx")
    with served([str(uvx if uvx.exists() else "uvx"), "--from", package, *command], probe, log):
        yield


@contextmanager
def api_server(cli: str, project: Path, env: Mapping[str, str], log: Path) -> Iterator[str]:
    """The project's API on a free local port; stopped (and its log shown) afterwards."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with log.open("w", encoding="utf-8") as output:
        server = subprocess.Popen(
            ["uv", "run", "--no-sync", cli, "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=project,
            env=dict(env),
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + READY_TIMEOUT
            status = 0
            while time.monotonic() < deadline:
                if server.poll() is not None:
                    pytest.fail(
                        f"the API exited with {server.returncode}:\n{log.read_text('utf-8')}"
                    )
                try:
                    status, _ = http("GET", f"{base}/ready")
                except OSError:  # not listening yet
                    status = 0
                if status == 200:
                    break
                time.sleep(0.5)
            else:
                pytest.fail(
                    f"/ready did not answer 200 within {READY_TIMEOUT} s (last status {status}):"
                    f"\n{log.read_text('utf-8')}"
                )
            yield base
        finally:
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(timeout=15)


def example_applicant(project: Path, package: str, env: Mapping[str, str]) -> dict[str, Any]:
    """The data contract's example request body, as the rendered project declares it."""
    code = f"import json; from {package}.data.contract import EXAMPLE; print(json.dumps(EXAMPLE))"
    result = run(["uv", "run", "--no-sync", "python", "-c", code], project, env)
    applicant: dict[str, Any] = json.loads(result.stdout)
    return applicant


@dataclass(frozen=True)
class SklearnDataset:
    """A dataset scikit-learn ships offline, adopted as a user's CSV file would be."""

    name: str  # sklearn.datasets.load_<name>
    loader_arguments: str  # Python keyword arguments to the loader, beyond as_frame
    task: str  # what adopt must infer
    sensitive: tuple[str, ...] = ()  # adopt's --sensitive columns


BREAST_CANCER = SklearnDataset("breast_cancer", "", "binary")
WINE = SklearnDataset("wine", "", "multiclass")
# Unscaled: age in years and sex as 1/2, as a user's file would hold them.
DIABETES = SklearnDataset("diabetes", "scaled=False", "regression", sensitive=("sex",))


def adopt_dataset(
    project: Path, cli: str, env: Mapping[str, str], dataset: SklearnDataset, source: Path
) -> str:
    """Write `dataset` to `source`, outside the project, as a user's file (its target column
    `target`), and adopt it with the project's `<cli> adopt`; returns what adopt said."""
    loader = f"load_{dataset.name}"
    arguments = ", ".join(filter(None, ["as_frame=True", dataset.loader_arguments]))
    write = (
        f"import sys; from sklearn.datasets import {loader}; "
        f"{loader}({arguments}).frame.to_csv(sys.argv[1], index=False)"
    )
    run(["uv", "run", "--no-sync", "python", "-c", write, str(source)], project, env)
    return adopt_again(project, cli, env, dataset, source)


def adopt_again(
    project: Path, cli: str, env: Mapping[str, str], dataset: SklearnDataset, source: Path
) -> str:
    """`<cli> adopt` on the file `adopt_dataset` wrote, with the dataset's options; returns
    what adopt said."""
    adopted = run(
        ["uv", "run", "--no-sync", cli, "adopt", str(source), "--target", "target",
         *(option for name in dataset.sensitive for option in ("--sensitive", name))],
        project, env,
    )  # fmt: skip
    return adopted.stdout + adopted.stderr  # the project's lines go to stderr


def check_api(base: str, applicant: dict[str, Any]) -> None:
    status, body = http("GET", f"{base}/health")
    assert status == 200, body

    status, body = http("POST", f"{base}/predict", applicant)
    assert status == 200, body
    prediction = json.loads(body)
    assert prediction["label"] in (0, 1)
    assert 0.0 <= prediction["probability"] <= 1.0

    status, body = http("POST", f"{base}/predict/batch", {"instances": [applicant, applicant]})
    assert status == 200, body
    predictions = json.loads(body)["predictions"]
    assert len(predictions) == 2
    assert predictions[0] == predictions[1]

    incomplete = dict(list(applicant.items())[1:])
    status, body = http("POST", f"{base}/predict", incomplete)
    assert status == 422, f"a request missing a field was accepted: {body}"

    status, body = http("GET", f"{base}/metrics")
    assert status == 200, body
    assert "model_predictions_total" in body
    assert "http_request_duration_seconds" in body
