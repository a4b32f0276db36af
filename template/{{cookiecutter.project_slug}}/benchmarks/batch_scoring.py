"""Batch scoring's speed and memory (`make bench`, after benchmarks/performance.py): rows/s
and peak resident memory of `score` (serving/batch.py) on synthetic files of several times
params.yaml `score.chunk_rows`, beside the API's rows/s on the same rows in the same run
(in-process, 1000-row compact batches, inference log off) as the reference.

The rows are drawn from the data contract: each model input's categories or bounds, so the
figures follow the contract in use. Each size is scored in a process of its own, so its
peak memory is its own; an empty file (the header only) gives the cost of the stack and the
model. With memory bounded by the chunk size, the peaks of the larger files stay close.
Needs the champion (`make pipeline`). Nothing here fails on speed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from fastapi.testclient import TestClient

from {{ cookiecutter.project_slug }}.config import get_settings
from {{ cookiecutter.project_slug }}.data.contract import COLUMNS, MODEL_INPUTS
from {{ cookiecutter.project_slug }}.serving.app import create_app
from {{ cookiecutter.project_slug }}.serving.batch import NEEDED
from {{ cookiecutter.project_slug }}.serving.schemas import MAX_BATCH

CHUNKS = (0, 5, 20)  # file sizes, in chunks
# One size in a fresh process: seconds and peak RSS in KiB. On Linux from the process's own
# high-water mark (VmHWM): getrusage's ru_maxrss keeps the parent's peak across fork and
# exec, which here holds the generated frame. macOS: ru_maxrss, in bytes.
CHILD = """
import json, resource, sys, time
from pathlib import Path
from {{ cookiecutter.project_slug }}.config import get_settings
from {{ cookiecutter.project_slug }}.serving.batch import score_file
signers = get_settings().serve.trusted_signers
start = time.perf_counter()
result = score_file(sys.argv[1], sys.argv[2], Path(sys.argv[3]), int(sys.argv[4]), signers=signers)
seconds = time.perf_counter() - start
status = Path("/proc/self/status")
if status.exists():
    (line,) = (x for x in status.read_text().splitlines() if x.startswith("VmHWM:"))
    peak = int(line.split()[1])
else:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
print(json.dumps({"rows": result.rows, "seconds": seconds, "peak": peak}))
"""


def synthetic(rows: int, seed: int) -> pd.DataFrame:
    """`rows` rows of the columns `score` reads, drawn from the contract."""
    rng = np.random.default_rng(seed)
    columns: dict[str, Any] = {}
    for column in (c for c in COLUMNS if c.name in NEEDED):
        if column.role == "identifier":
            columns[column.name] = np.arange(rows).astype(column.dtype)
        elif column.categories:
            columns[column.name] = rng.choice(column.categories, rows)
        else:
            low = column.ge if column.ge is not None else 0
            high = column.le if column.le is not None else low + 100
            values = rng.uniform(low, high, rows)
            columns[column.name] = values.round().astype(int) if column.dtype is int else values
    return pd.DataFrame(columns)


def api_rows_per_second(model_dir: Path, frame: pd.DataFrame) -> float:
    records = frame[list(MODEL_INPUTS)].to_dict("records")
    with TestClient(create_app(model_dir)) as client:
        start = time.perf_counter()
        for i in range(0, len(records), MAX_BATCH):
            body = {"instances": records[i : i + MAX_BATCH]}
            response = client.post("/predict/batch?compact=true", json=body)
            response.raise_for_status()
        return len(records) / (time.perf_counter() - start)


def main() -> int:
    settings = get_settings()
    model_dir, chunk = settings.serve.model_dir, settings.score.chunk_rows
    if not model_dir.is_dir():
        print(f"error: no champion in {model_dir}: run `make pipeline` first", file=sys.stderr)
        return 1
    runs: dict[str, dict[str, float | None]] = {}
    figures: dict[str, Any] = {"chunk_rows": chunk, "score": runs}
    with tempfile.TemporaryDirectory() as directory:
        for chunks in CHUNKS:
            frame = synthetic(chunks * chunk, settings.seed)
            source = Path(directory) / f"input-{chunks}.csv"
            frame.to_csv(source, index=False)
            done = subprocess.run(  # noqa: S603 (this interpreter, fixed arguments)
                [sys.executable, "-c", CHILD, str(source), str(Path(directory) / "out.parquet"),
                 str(model_dir), str(chunk)],
                capture_output=True, text=True, check=True, env=os.environ,
            )  # fmt: skip
            run = json.loads(done.stdout)
            runs[f"{run['rows']} rows"] = {
                "rows_per_second": round(run["rows"] / run["seconds"]) if run["rows"] else None,
                "seconds": round(run["seconds"], 3),
                "peak_rss_mb": round(run["peak"] / 1024, 1),
            }
        reference = synthetic(CHUNKS[1] * chunk, settings.seed)
        figures["api_rows_per_second"] = round(api_rows_per_second(model_dir, reference))
    print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
