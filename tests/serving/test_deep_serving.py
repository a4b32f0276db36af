"""Deep tier, serving: the default render's API, fuzzed and loaded as a user would serve it.

The project is rendered with the default answers, installed, and its pipeline run; then its
API (`serve`, one worker per CPU) is
- fuzzed by schemathesis against its own OpenAPI schema, with every check (no server error,
  no status, header or body the schema does not declare, valid data accepted, invalid data
  refused), and
- loaded by wrk with 10,000 single-row predictions over 32 connections: every one must
  succeed, no worker may restart, and the workers' memory may grow by at most
  MAX_MEMORY_GROWTH_MB over the load (after a warm-up).
Speed is not asserted here (it depends on the machine and its load): `make bench` measures
it. Needs `wrk` (Debian/Ubuntu: `apt-get install wrk`; .ci/run installs it).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path

import pytest

from support import deep
from support.deep import (
    api_server,
    example_applicant,
    http,
    installed_project,
    run,
)
from support.rendering import defaults
from support.reporting import RecordProperty

pytestmark = pytest.mark.deep

REQUESTS = 10_000
CONNECTIONS = 32
WRK_THREADS = 2
WARM_UP_REQUESTS = 1_000
MAX_MEMORY_GROWTH_MB = 32
WORKERS_READY_TIMEOUT = 300
LOAD_TIMEOUT = 600  # seconds: wrk's duration, a bound never reached on a working API
FUZZ_EXAMPLES = 30  # per operation and phase; schemathesis's coverage phase adds its own


def listening_inode(port: int) -> str:
    """The inode of the socket listening on 127.0.0.1:`port` (from /proc/net/tcp)."""
    for line in Path("/proc/net/tcp").read_text("utf-8").splitlines()[1:]:
        fields = line.split()
        local, state, inode = fields[1], fields[3], fields[9]
        if int(local.split(":")[1], 16) == port and state == "0A":  # 0A: LISTEN
            return inode
    raise AssertionError(f"nothing listens on port {port}")


def serving_processes(port: int) -> set[int]:
    """The processes holding the listening socket: uvicorn's supervisor and its workers."""
    target = f"socket:[{listening_inode(port)}]"
    found = set()
    for process in Path("/proc").iterdir():
        if not process.name.isdigit():
            continue
        try:
            if any(os.readlink(fd) == target for fd in (process / "fd").iterdir()):
                found.add(int(process.name))
        except OSError:  # gone meanwhile, or not ours to read
            continue
    return found


def resident_mb(pids: set[int]) -> float:
    total_kb = 0
    for pid in pids:
        for line in Path(f"/proc/{pid}/status").read_text("utf-8").splitlines():
            if line.startswith("VmRSS:"):
                total_kb += int(line.split()[1])
    return total_kb / 1024


def predictions_served(base: str) -> int:
    """Requests to /predict the API has answered, from its Prometheus metrics."""
    status, text = http("GET", f"{base}/metrics")
    assert status == 200, text
    return sum(
        int(float(line.rsplit(" ", 1)[1]))
        for line in text.splitlines()
        if line.startswith('http_requests_total{endpoint="/predict"')
    )


def wrk_load(
    wrk: str, script: Path, body: Path, base: str, requests: int, env: Mapping[str, str]
) -> dict[str, float]:
    """`requests` POSTs of `body` to /predict over CONNECTIONS connections; wrk's figures.

    The rendered project's benchmarks/post.lua stops each wrk thread after its share, but
    wrk's main thread sleeps out its whole duration (-d) regardless; so once the API has
    counted every request, wrk is interrupted (SIGINT), and prints its figures.
    """
    target = predictions_served(base) + requests
    wrk_process = subprocess.Popen(
        [wrk, f"-t{WRK_THREADS}", f"-c{CONNECTIONS}", f"-d{LOAD_TIMEOUT}s", "--timeout", "30s",
         "-s", str(script), f"{base}/predict"],
        env={**env, "BODY_FILE": str(body), "REQUESTS_PER_THREAD": str(requests // WRK_THREADS)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        while predictions_served(base) < target and wrk_process.poll() is None:
            time.sleep(0.5)
        wrk_process.send_signal(signal.SIGINT)
        output, errors = wrk_process.communicate(timeout=60)
    finally:
        if wrk_process.poll() is None:
            wrk_process.kill()
            wrk_process.wait()
    assert output.strip(), errors
    figures: dict[str, float] = json.loads(output.strip().splitlines()[-1])
    return figures


def test_api_survives_fuzzing_and_load(
    copier_source: Path,
    tmp_path: Path,
    record_property: RecordProperty,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Every worker process imports the scientific stack and loads the model: on a busy
    # 2-core runner the first one can need more than test_deep's 90 s to be ready.
    monkeypatch.setattr(deep, "READY_TIMEOUT", WORKERS_READY_TIMEOUT)
    start = time.perf_counter()
    wrk, schemathesis = shutil.which("wrk"), shutil.which("schemathesis")
    assert wrk, "this test needs wrk on PATH (Debian/Ubuntu: apt-get install wrk)"
    assert schemathesis, "schemathesis is missing: run `uv sync` in the template repository"
    project, env, cli, package = installed_project(copier_source, defaults(), tmp_path / "project")
    run(["make", "pipeline"], project, env)
    body = tmp_path / "applicant.json"
    body.write_text(json.dumps(example_applicant(project, package, env)))

    with api_server(cli, project, env, tmp_path / "api.log") as base:
        fuzz = run(
            [schemathesis, "run", f"{base}/openapi.json", "--checks", "all",
             "--max-examples", str(FUZZ_EXAMPLES), "--seed", "1", "--no-color"],
            project, env, check=False,
        )  # fmt: skip
        assert fuzz.returncode == 0, fuzz.stdout[-8000:] + fuzz.stderr[-2000:]

        script = project / "benchmarks" / "post.lua"
        port = int(base.rsplit(":", 1)[1])
        warm = wrk_load(wrk, script, body, base, WARM_UP_REQUESTS, env)
        assert warm["socket_errors"] == warm["non_2xx"] == 0, warm
        processes = serving_processes(port)
        before = resident_mb(processes)
        load = wrk_load(wrk, script, body, base, REQUESTS, env)
        growth = resident_mb(processes) - before
        assert serving_processes(port) == processes, "a worker died or was replaced under load"

    record_property(
        "wall_time",
        f"serving: {time.perf_counter() - start:.1f} s; {load['requests']:.0f} requests "
        f"in {load['seconds']:.1f} s ({load['requests'] / load['seconds']:.0f}/s) "
        f"by {len(processes)} processes, "
        f"memory {before:.0f} MB + {growth:.1f} MB",
    )
    assert load["requests"] >= REQUESTS, load
    assert load["socket_errors"] == 0, load
    assert load["non_2xx"] == 0, load
    assert growth <= MAX_MEMORY_GROWTH_MB, f"memory grew {growth:.1f} MB under load"
