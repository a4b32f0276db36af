"""Performance figures of the model and its features (ML Test Score Data 3, Monitoring 6):
the first part of `make bench` (benchmarks/serving.py, the API under load, is the second).

Prints training time, scoring latency and throughput, the model's size on disk and the
compute cost of each feature's preprocessing, so that a change that makes any of them
regress shows up in review (each feature's benefit is in the model card's importances).
Nothing here fails: compare the figures with those of the previous release.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import pandas as pd
from sklearn.base import clone

from {{ cookiecutter.project_slug }}.config import get_settings
from {{ cookiecutter.project_slug }}.data import ingest
from {{ cookiecutter.project_slug }}.data.contract import MODEL_INPUTS
from {{ cookiecutter.project_slug }}.registry import model_store
from {{ cookiecutter.project_slug }}.registry.model_store import predict_output
from {{ cookiecutter.project_slug }}.training.train import train


def best_of(repeat: int, action: Callable[[], object]) -> float:
    """Fastest of `repeat` runs in milliseconds (the least disturbed by other load)."""
    timings = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        timings.append((time.perf_counter() - start) * 1000)
    return min(timings)


def main() -> int:
    settings = get_settings()
    frame = ingest.add_slices(ingest.load_raw(settings.data.raw_path))
    train_frame, holdout = ingest.split(frame, settings.data.test_size, settings.seed)

    start = time.perf_counter()
    trained = train(train_frame, settings.train, settings.seed)
    figures: dict[str, float | dict[str, float]] = {
        "train_seconds": round(time.perf_counter() - start, 3)
    }
    pipeline = trained.pipeline
    one = holdout.head(1)
    batch = pd.concat([holdout] * (1000 // len(holdout) + 1)).head(1000)
    one_ms = best_of(50, lambda: predict_output(pipeline, one))
    figures["latency_one_row_ms"] = round(one_ms, 3)
    batch_ms = best_of(10, lambda: predict_output(pipeline, batch))
    figures["batch_1000_rows_ms"] = round(batch_ms, 3)
    figures["rows_per_second"] = round(1000 / (batch_ms / 1000))
    with tempfile.TemporaryDirectory() as directory:
        metadata = model_store.ModelMetadata(name="bench", version="0", run_id="-", model_type="-")
        saved = model_store.save(Path(directory), pipeline, metadata)
        size = (saved / model_store.MODEL_FILE).stat().st_size
        figures["model_kilobytes"] = round(size / 1024, 1)

    # Compute cost of each feature: its own preprocessing, fitted and timed alone.
    derive = pipeline.named_steps["features"].named_steps["derive"]
    columns = pipeline.named_steps["features"].named_steps["columns"]
    inputs = batch[list(MODEL_INPUTS)]
    fitted_on = derive.transform(train_frame[list(MODEL_INPUTS)])
    scored = derive.transform(inputs)
    costs = {}
    for _, transformer, names in columns.transformers_:
        if transformer == "drop":
            continue
        for name in names:
            alone = clone(transformer).fit(fitted_on[[name]])
            costs[name] = round(best_of(10, partial(alone.transform, scored[[name]])), 3)
    costs["derived features (all)"] = round(best_of(10, lambda: derive.transform(inputs)), 3)
    figures["feature_cost_ms_per_1000_rows"] = costs
    print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
