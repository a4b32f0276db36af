"""Scale (`make bench`, after benchmarks/batch_scoring.py): `score` over a file many times
what one chunk holds, and training time per million rows, with the local engine and, when
params.yaml `compute.engine` names another, with that engine on 1 and 2 workers, side by
side (`make bench ROWS=... TRAIN_ROWS=...`; defaults 10,000,000 and 1,000,000).

The input is drawn from the data contract (benchmarks/batch_scoring.py `synthetic`), written
once to a temporary Parquet file a chunk at a time, so generating it is memory-bounded too.
Each run is a process of its own, so its peak resident memory (Linux: VmHWM) is its own:
the driver's (the process that reads the file and writes the scores) and, where the engine
starts processes of its own (a local Ray's raylet and workers), the largest of theirs and
their sum. The memory bound, per engine and worker count: the stack (the same run's peak on
an empty file) plus BOUND_CHUNKS times one chunk's working set (a one-chunk file's peak less
the stack's, at least MIN_CHUNK_MB); the driver and the largest other process must stay
under it, or this exits 1. Nothing here fails on speed.

Training: the project's pipeline with LightGBM (fixed hyper-parameters, no tuning: what is
timed is one fit) on synthetic labelled rows, labelled by a fixed rule over the contract's
columns so that there is something to learn; its held-out primary metric is printed beside
the time, so a fit that learned nothing shows.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from benchmarks.batch_scoring import synthetic

from {{ cookiecutter.project_slug }}.compute import LOCAL, get_engine
from {{ cookiecutter.project_slug }}.config import Settings, get_settings
from {{ cookiecutter.project_slug }}.data.contract import COLUMNS, CONTRACT, MODEL_INPUTS, TARGET
from {{ cookiecutter.project_slug }}.serving.batch import score_file
from {{ cookiecutter.project_slug }}.tasks import TASK
from {{ cookiecutter.project_slug }}.training.train import build_pipeline, fit

BOUND_CHUNKS = 8  # the bound: the stack plus this many chunks' working sets
MIN_CHUNK_MB = 32.0  # a chunk's working set counted as at least this (allocator slack)
LIGHTGBM = {"n_estimators": 100, "num_leaves": 31, "learning_rate": 0.1}
HOLDOUT_ROWS = 20_000
ROOT = Path(__file__).resolve().parent.parent  # the project: params.yaml, `benchmarks`


# ---- Peak memory, in MB: this process's, and its descendants' (the engine's processes).
def _peak_kib(pid: int | str) -> int | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:  # gone
        return None
    lines = [line for line in status.splitlines() if line.startswith("VmHWM:")]
    return int(lines[0].split()[1]) if lines else None


def _descendants() -> list[int]:
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:  # the parent is the field after the (parenthesised) command name
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            parents.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [os.getpid()]
    while todo:
        children = parents.get(todo.pop(), [])
        found += children
        todo += children
    return found


def peaks() -> dict[str, float | None]:
    """This process's peak, and the largest and the sum of its descendants' (Linux's
    VmHWM; elsewhere getrusage's peak of this process only, in bytes on macOS)."""
    own = _peak_kib("self")
    if own is None:
        usage = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return {"driver": usage / 2**20 if sys.platform == "darwin" else usage / 1024,
                "largest_other": None, "others": None}  # fmt: skip
    others = [p for p in map(_peak_kib, _descendants()) if p is not None]
    return {
        "driver": own / 1024,
        "largest_other": max(others) / 1024 if others else None,
        "others": sum(others) / 1024 if others else None,
    }


# ---- The children: one run each, its figures as one JSON line.
def settings_for(engine: str, workers: int) -> Settings:
    settings = get_settings()
    compute = settings.compute.model_copy(update={"engine": engine, "workers": workers})
    return settings.model_copy(update={"compute": compute})


def child_score(engine: str, workers: int, chunk_rows: int, *files: str) -> dict[str, Any]:
    """Score each file in turn (the empty one, one chunk's, the big one) in this process,
    the peaks after each: high-water marks, so each is the peak of the runs up to it."""
    settings = settings_for(engine, workers)
    started = get_engine(settings.compute)
    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as directory:
        for name in files:
            start = time.perf_counter()
            result = score_file(
                name,
                f"{directory}/scores.parquet",
                settings.serve.model_dir,
                chunk_rows,
                started,
                signers=settings.serve.trusted_signers,
            )
            seconds = time.perf_counter() - start
            figures[Path(name).stem] = {"rows": result.rows, "seconds": seconds, **peaks()}
    return figures


def labelled(rows: int, seed: int) -> pd.DataFrame:
    """`rows` synthetic rows with a target from a fixed rule: a weighted sum of the model
    inputs, each scaled to [-0.5, 0.5] (a category by its position), plus noise; a
    classifier's classes are its quantiles."""
    frame = synthetic(rows, seed)
    rng = np.random.default_rng(seed + 1)
    score = np.zeros(rows)
    for column in (c for c in COLUMNS if c.name in MODEL_INPUTS):
        if column.categories:
            position = pd.Categorical(frame[column.name], categories=column.categories).codes
            scaled = position / max(len(column.categories) - 1, 1) - 0.5
        else:
            values = frame[column.name].to_numpy(dtype=float)
            low, high = values.min(), values.max()
            scaled = (values - low) / ((high - low) or 1.0) - 0.5
        score += rng.uniform(-1, 1) * scaled
    score += rng.normal(0, 0.1, rows)
    classes = len(CONTRACT.class_names)  # none: regression
    if not classes:
        frame[TARGET.name] = score
    else:
        edges = np.quantile(score, np.linspace(0, 1, classes + 1)[1:-1])
        frame[TARGET.name] = np.searchsorted(edges, score).astype(TARGET.dtype)
    return frame


def child_train(engine: str, workers: int, rows: int) -> dict[str, Any]:
    settings = settings_for(engine, workers)
    started = get_engine(settings.compute)
    frame = labelled(rows + HOLDOUT_ROWS, settings.seed)
    train, holdout = frame.iloc[:rows], frame.iloc[rows:]
    pipeline = build_pipeline("lightgbm", LIGHTGBM, settings.seed)
    start = time.perf_counter()
    fit(pipeline, train, started)
    seconds = time.perf_counter() - start
    output = TASK.output(pipeline, holdout[list(MODEL_INPUTS)])
    quality = TASK.primary_value(holdout[TARGET.name].to_numpy(), output)
    return {"rows": rows, "seconds": seconds, "holdout": quality, **peaks()}


# ---- The parent: the input, the runs, the table.
class RunError(RuntimeError):
    """A child failed: its last line."""


def write_input(path: Path, rows: int, chunk_rows: int, seed: int) -> None:
    """`rows` contract rows into a Parquet file, generated and written a chunk at a time
    (identifiers numbered on across chunks)."""
    identifiers = [c.name for c in COLUMNS if c.role == "identifier"]
    writer: pq.ParquetWriter | None = None
    try:
        for start in range(0, rows, chunk_rows):
            frame = synthetic(min(chunk_rows, rows - start), seed + start)
            for name in identifiers:
                frame[name] = frame[name] + start
            table = pa.Table.from_pandas(frame, preserve_index=False)
            if writer is None:
                writer = pq.ParquetWriter(path, table.schema)
            writer.write_table(table)
    finally:
        if writer is not None:
            writer.close()


def run(*arguments: object) -> dict[str, Any]:
    """One child (`python -m benchmarks.scale --child ...`): its JSON line."""
    done = subprocess.run(  # noqa: S603 (this interpreter, this module)
        [sys.executable, "-m", "benchmarks.scale", "--child", *map(str, arguments)],
        capture_output=True, text=True, env=os.environ, cwd=ROOT,
    )  # fmt: skip
    if done.returncode:  # the child's last line: its error
        lines = done.stderr.strip().splitlines() or ["no output"]
        raise RunError(f"{' '.join(map(str, arguments[:3]))}: {lines[-1]}")
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def bound_mb(stack: float | None, empty: dict[str, Any], one_chunk: dict[str, Any]) -> float | None:
    """`stack` plus BOUND_CHUNKS chunks' working sets (the driver's one-chunk peak less its
    empty-file peak, at least MIN_CHUNK_MB)."""
    if stack is None:
        return None
    chunk = float(one_chunk["driver"] - empty["driver"])
    return float(stack) + BOUND_CHUNKS * max(chunk, MIN_CHUNK_MB)


def scoring(engine: str, workers: int, files: list[Path], chunk_rows: int) -> dict[str, Any]:
    """A run of the empty, one-chunk and big files in one process; the big file's figures,
    checked against the bound measured on the other two."""
    measured = run("score", engine, workers, chunk_rows, *files)
    at_rest, one_chunk, figures = (dict(measured[file.stem]) for file in files)
    # The driver's stack: its peak on the empty file. The engine's processes (a local Ray's
    # workers) import the scorer when they first get rows: their stack is the one-chunk peak.
    figures["bound"] = bound_mb(at_rest["driver"], at_rest, one_chunk)
    figures["bound_other"] = bound_mb(one_chunk["largest_other"], at_rest, one_chunk)
    figures["under"] = figures["driver"] <= figures["bound"] and (
        figures["largest_other"] is None
        or figures["bound_other"] is None
        or figures["largest_other"] <= figures["bound_other"]
    )
    return figures


def megabytes(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def main(arguments: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000, help="rows to score")
    parser.add_argument("--train-rows", type=int, default=1_000_000, help="rows to train on")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    options = parser.parse_args(arguments)
    try:
        return measure(options) if not options.child else child(options.child)
    except RunError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


def child(arguments: list[str]) -> int:
    kind, engine, workers, *rest = arguments
    if kind == "score":
        figures = child_score(engine, int(workers), int(rest[0]), *rest[1:])
    else:
        figures = child_train(engine, int(workers), int(rest[0]))
    print(json.dumps(figures))
    return 0


def measure(options: argparse.Namespace) -> int:
    settings = get_settings()
    model_dir, chunk = settings.serve.model_dir, settings.score.chunk_rows
    if not model_dir.is_dir():
        print(f"error: no champion in {model_dir}: run `make pipeline` first", file=sys.stderr)
        return 1
    runs = [(LOCAL.name, 1)]
    if settings.compute.engine != LOCAL.name:  # params.yaml's engine, on 1 and 2 workers
        runs += [(settings.compute.engine, 1), (settings.compute.engine, 2)]
    with tempfile.TemporaryDirectory() as directory:
        files = [Path(directory) / f"{name}.parquet" for name in ("empty", "one", "rows")]
        empty, one, source = files
        write_input(source, options.rows, chunk, settings.seed)
        write_input(one, chunk, chunk, settings.seed)
        pq.write_table(pq.read_table(one).schema.empty_table(), empty)
        size = source.stat().st_size / 2**20
        print(f"Scoring {options.rows:,} contract rows ({size:,.0f} MB of Parquet), chunks of "
              f"{chunk:,} rows; bound: stack + {BOUND_CHUNKS} chunks' working sets")  # fmt: skip
        print(f"{'run':<16}{'rows/s':>12}{'vs local':>10}{'peak MB':>10}{'bound MB':>10}"
              f"{'others MB (largest/all)':>26}  under bound")  # fmt: skip
        broken = False
        reference = 0.0
        for engine, workers in runs:
            figures = scoring(engine, workers, files, chunk)
            speed = figures["rows"] / figures["seconds"]
            reference = reference or speed
            name = engine if engine == LOCAL.name else f"{engine} x{workers}"
            others = f"{megabytes(figures['largest_other'])}/{megabytes(figures['others'])}"
            print(f"{name:<16}{speed:>12,.0f}{speed / reference:>10.2f}"
                  f"{megabytes(figures['driver']):>10}{megabytes(figures['bound']):>10}"
                  f"{others:>26}  {'yes' if figures['under'] else 'NO'}")  # fmt: skip
            broken = broken or not figures["under"]
    if options.train_rows:
        print(f"\nTraining LightGBM ({LIGHTGBM}) on {options.train_rows:,} labelled rows")
        print(f"{'run':<16}{'s per 1M rows':>14}{'vs local':>10}{'peak MB':>10}"
              f"{TASK.primary.key + ' held out':>22}")  # fmt: skip
        reference = 0.0
        for engine, workers in runs:
            figures = run("train", engine, workers, options.train_rows)
            per_million = figures["seconds"] * 1_000_000 / figures["rows"]
            reference = reference or per_million
            name = engine if engine == LOCAL.name else f"{engine} x{workers}"
            print(f"{name:<16}{per_million:>14.1f}{per_million / reference:>10.2f}"
                  f"{megabytes(figures['driver']):>10}{figures['holdout']:>22.3f}")  # fmt: skip
    if broken:
        print("error: a run's peak memory broke the bound: reading is not chunked", file=sys.stderr)
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
