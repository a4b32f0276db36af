"""The second part of `make bench` (after benchmarks/performance.py, the model's own
costs): how fast the project trains and serves, on this machine, now.

1. The wall time of `make pipeline`.
2. The API (`serve`, one worker per CPU) under wrk (https://github.com/wg/wrk; Debian and
   Ubuntu: `apt-get install wrk`, macOS: `brew install wrk`): requests/s and latency
   percentiles for single rows and 100-row batches (compact responses), at 1 and 32
   concurrent connections, each load for a fixed time on the loopback interface. It runs
   twice, with the inference log on (as deployed; written to a scratch directory, never to
   the project's own log) and off, interleaved, to print what the log costs; and a third
   time with a shadow challenger beside the champion (a copy of it, as costly as a
   challenger of its kind; both in a scratch directory), scored off the request path
   (serving/shadow.py), to print champion-only against with-shadow p50 and p99 side by side.
3. When MLflow is installed (tracker=mlflow): the same loads against `mlflow models serve`
   of the same champion (the registry's `champion` alias, `--env-manager local`, the same
   number of workers), interleaved with ours load by load and round by round so that both
   see the same machine; then the ratios, the last line being
   `ratio vs mlflow models serve: X.XX` (single row, 32 connections).

Figures vary with the hardware and with whatever else runs on it: the load average is
printed with them; compare runs made on the same machine. The targets the template aims
at are printed beside the figures; nothing here fails on speed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from {{ cookiecutter.project_slug }}.config import ENV_PREFIX, get_settings
from {{ cookiecutter.project_slug }}.data.contract import EXAMPLE, MODEL_INPUTS
from {{ cookiecutter.project_slug }}.data.ingest import ProcessedPaths, read_processed
from {{ cookiecutter.project_slug }}.registry.model_store import challenger_dir_of
from {{ cookiecutter.project_slug }}.serving.server import available_cpus
from {{ cookiecutter.project_slug }}.tracking import local_store_uri

PACKAGE = "{{ cookiecutter.project_slug }}"
LUA = Path(__file__).with_name("post.lua")
BATCH_ROWS = 100
START_TIMEOUT = 300  # seconds for a server's workers to load the model
OURS, UNLOGGED, MLFLOW = "this API", "this API, log off", "mlflow models serve"
SHADOWED = "this API, with shadow"
WRK = shutil.which("wrk") or "wrk"
MAKE = shutil.which("make") or "make"


@dataclass(frozen=True)
class Load:
    name: str
    rows: int
    connections: int


LOADS = (
    Load("single row, c=1", 1, 1),
    Load("single row, c=32", 1, 32),
    Load(f"{BATCH_ROWS}-row batch, c=1", BATCH_ROWS, 1),
    Load(f"{BATCH_ROWS}-row batch, c=32", BATCH_ROWS, 32),
)


@dataclass(frozen=True)
class Server:
    name: str
    url: str  # where the POSTs go
    bodies: dict[int, Path]  # rows -> request body file
    batch_suffix: str = ""  # appended to `url` for batches


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 (loopback)
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return 0


@contextmanager
def started(
    command: list[str], probe: str, workers: int, log: Path, env: dict[str, str]
) -> Iterator[None]:
    """A server process, once `probe` answers 200 and every worker has started."""
    with log.open("w", encoding="utf-8") as output:
        process = subprocess.Popen(  # noqa: S603 (our own interpreter and tools)
            command, env=env, stdout=output, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while (
            status(probe) != 200
            or log.read_text("utf-8").count("Application startup complete") < workers
        ):
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"`{' '.join(command)}` did not start:\n{log.read_text('utf-8')}")
            time.sleep(0.5)
        yield
    finally:
        process.terminate()
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wrk(url: str, body: Path, connections: int, seconds: int) -> dict[str, float]:
    """One bounded wrk run: its requests/s, latency percentiles (ms) and errors."""
    threads = min(2, connections)
    result = subprocess.run(  # noqa: S603 (wrk, on the loopback interface)
        [WRK, f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s",
         "-s", str(LUA), url],
        env={**os.environ, "BODY_FILE": str(body)},
        capture_output=True,
        text=True,
        check=True,
    )  # fmt: skip
    figures: dict[str, float] = json.loads(result.stdout.strip().splitlines()[-1])
    figures["rps"] = figures["requests"] / figures["seconds"]
    figures["errors"] = figures["socket_errors"] + figures["non_2xx"]
    return figures


def write_bodies(directory: Path, batch: list[dict[str, Any]]) -> tuple[dict[int, Path], ...]:
    """Request bodies: ours ({"instances": ...}) and MLflow's ({"dataframe_records": ...})."""
    ours, mlflow = {}, {}
    for rows, records in ((1, [EXAMPLE]), (BATCH_ROWS, batch)):
        ours[rows] = directory / f"ours-{rows}.json"
        ours[rows].write_text(json.dumps(EXAMPLE if rows == 1 else {"instances": records}))
        mlflow[rows] = directory / f"mlflow-{rows}.json"
        mlflow[rows].write_text(json.dumps({"dataframe_records": records}))
    return ours, mlflow


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5, help="length of each wrk run")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of every load (median)")
    parser.add_argument("--workers", type=int, default=available_cpus(), help="per server")
    parser.add_argument("--skip-pipeline", action="store_true", help="serve the champion as is")
    args = parser.parse_args()
    if not Path(WRK).is_absolute():
        print("wrk not found: install it (apt-get install wrk, brew install wrk)", file=sys.stderr)
        return 2
    settings = get_settings()
    if not args.skip_pipeline:
        start = time.perf_counter()
        subprocess.run([MAKE, "pipeline"], check=True, capture_output=True)  # noqa: S603
        print(f"make pipeline: {time.perf_counter() - start:.1f} s")

    holdout = read_processed(ProcessedPaths.under(settings.data.processed_dir).test)
    batch = json.loads(holdout[list(MODEL_INPUTS)].head(BATCH_ROWS).to_json(orient="records"))
    mlflow_cli = shutil.which("mlflow")  # installed with tracker=mlflow
    with tempfile.TemporaryDirectory() as scratch, ExitStack() as stack:
        directory = Path(scratch)
        ours, mlflow = write_bodies(directory, batch)
        env = {**os.environ}
        servers: list[Server] = []
        shadowed = directory / "shadow" / "champion"  # the challenger goes beside it
        for copy in (shadowed, challenger_dir_of(shadowed)):
            shutil.copytree(settings.serve.model_dir, copy)
        for name, logged in ((OURS, "true"), (UNLOGGED, "false"), (SHADOWED, "true")):
            port = free_port()
            log_env = {
                **env,
                f"{ENV_PREFIX}INFERENCE_LOG__ENABLED": logged,
                f"{ENV_PREFIX}INFERENCE_LOG__URL": str(directory / "inference-log"),
                **({f"{ENV_PREFIX}SERVE__MODEL_DIR": str(shadowed)} if name == SHADOWED else {}),
            }
            stack.enter_context(
                started(
                    # --verbose: each worker's "Application startup complete" is shown.
                    [sys.executable, "-m", PACKAGE, "--verbose", "serve", "--host", "127.0.0.1",
                     "--port", str(port), "--workers", str(args.workers)],
                    f"http://127.0.0.1:{port}/ready", args.workers,
                    directory / f"api-{len(servers)}.log", log_env,
                )
            )  # fmt: skip
            servers.append(
                Server(name, f"http://127.0.0.1:{port}/predict", ours, "/batch?compact=true")
            )
        if mlflow_cli is not None:
            env["MLFLOW_TRACKING_URI"] = (
                os.environ.get("MLFLOW_TRACKING_URI")
                or settings.tracking.uri
                or local_store_uri(Path())
            )
            mlflow_port = free_port()
            model = f"models:/{settings.tracking.model_name}@champion"
            stack.enter_context(
                started(
                    [mlflow_cli, "models", "serve", "-m", model, "--env-manager", "local",
                     "-h", "127.0.0.1", "-p", str(mlflow_port), "-w", str(args.workers)],
                    f"http://127.0.0.1:{mlflow_port}/ping", args.workers,
                    directory / "mlflow.log", env,
                )
            )  # fmt: skip
            servers.append(Server(MLFLOW, f"http://127.0.0.1:{mlflow_port}/invocations", mlflow))
        results = measure(servers, args.rounds, args.seconds)
    report(results, servers, args)
    return 0


def url_for(server: Server, load: Load) -> str:
    return server.url + (server.batch_suffix if load.rows > 1 else "")


def measure(
    servers: list[Server], rounds: int, seconds: int
) -> dict[tuple[str, str], list[dict[str, float]]]:
    """Every load on every server, interleaved: load by load, round by round."""
    results: dict[tuple[str, str], list[dict[str, float]]] = {}
    for server in servers:  # warm up (first requests, caches, allocators)
        for load in LOADS:
            wrk(url_for(server, load), server.bodies[load.rows], load.connections, 1)
    for _ in range(rounds):
        for load in LOADS:
            for server in servers:
                figures = wrk(
                    url_for(server, load), server.bodies[load.rows], load.connections, seconds
                )
                results.setdefault((server.name, load.name), []).append(figures)
    return results


def report(
    results: dict[tuple[str, str], list[dict[str, float]]],
    servers: list[Server],
    args: argparse.Namespace,
) -> None:
    load1, load5, load15 = os.getloadavg()
    print(
        f"load average {load1:.2f} {load5:.2f} {load15:.2f} on {os.cpu_count()} CPUs; "
        f"{args.workers} worker(s) per server; wrk {args.seconds} s per run, "
        f"{args.rounds} round(s), interleaved; medians over the rounds"
    )
    print(f"{'load':<24}{'server':<22}{'req/s':>9}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}"
          f"{'errors':>8}")  # fmt: skip
    median: dict[tuple[str, str], dict[str, float]] = {}
    for load in LOADS:
        for server in servers:
            runs = results[(server.name, load.name)]
            row = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
            row["errors"] = sum(r["errors"] for r in runs)
            median[(server.name, load.name)] = row
            print(
                f"{load.name:<24}{server.name:<22}{row['rps']:>9.0f}{row['p50_ms']:>9.2f}"
                f"{row['p95_ms']:>9.2f}{row['p99_ms']:>9.2f}{row['errors']:>8.0f}"
            )
    print("batches: this API answers ?compact=true; MLflow answers its default predictions")
    p99 = median[(OURS, LOADS[0].name)]["p99_ms"]
    print(f"target p99 <= 10 ms for a single row at c=1: {p99:.2f} ms")
    for load in LOADS:
        on, off = median[(OURS, load.name)], median[(UNLOGGED, load.name)]
        print(
            f"inference log on vs off, {load.name}: req/s {on['rps'] / off['rps']:.2f}x, "
            f"p99 {on['p99_ms']:.2f} vs {off['p99_ms']:.2f} ms"
        )
    for load in LOADS:
        alone, both = median[(OURS, load.name)], median[(SHADOWED, load.name)]
        print(
            f"champion only vs with shadow, {load.name}: p50 {alone['p50_ms']:.2f} vs "
            f"{both['p50_ms']:.2f} ms, p99 {alone['p99_ms']:.2f} vs {both['p99_ms']:.2f} ms, "
            f"req/s {both['rps'] / alone['rps']:.2f}x"
        )
    if MLFLOW not in {server.name for server in servers}:
        return
    ratios = {
        load.name: median[(OURS, load.name)]["rps"] / median[(MLFLOW, load.name)]["rps"]
        for load in LOADS
    }
    for load in LOADS:
        target = 5 if load.rows == 1 else 3
        print(f"req/s vs mlflow models serve, {load.name}: {ratios[load.name]:.2f}x "
              f"(target >= {target}x)")  # fmt: skip
    print(f"ratio vs mlflow models serve: {ratios[LOADS[1].name]:.2f}")


if __name__ == "__main__":
    sys.exit(main())
