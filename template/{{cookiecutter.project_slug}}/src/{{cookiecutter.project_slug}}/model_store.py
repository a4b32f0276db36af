"""The servable model on disk: the fitted pipeline plus metadata, in one directory.

The promotion step exports the champion here from the tracker's registry, so the API and
its container image load a plain directory and never need the tracker.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import joblib
from pydantic import BaseModel, Field
from sklearn.pipeline import Pipeline

MODEL_FILE = "model.joblib"
METADATA_FILE = "metadata.json"


class ModelNotFoundError(FileNotFoundError):
    """No model has been exported to the directory yet."""


class ModelMetadata(BaseModel):
    """What is known about a model version; shown by the API and the model card."""

    name: str
    version: str
    run_id: str
    model_type: str
    trained_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    metrics: dict[str, float] = {}
    hyperparameters: dict[str, Any] = {}
    inputs: list[str] = []
    lineage: dict[str, str] = Field(
        default={}, description="The data and code it was trained on (see lineage.py)."
    )


def save(directory: Path, pipeline: Pipeline, metadata: ModelMetadata) -> Path:
    """Write the model and its metadata; the metadata goes last so that a directory with
    metadata always has a complete model."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / METADATA_FILE).unlink(missing_ok=True)
    joblib.dump(pipeline, directory / MODEL_FILE)
    (directory / METADATA_FILE).write_text(metadata.model_dump_json(indent=2), encoding="utf-8")
    return directory


def load(directory: Path) -> tuple[Pipeline, ModelMetadata]:
    """Load a saved model, or raise ModelNotFoundError saying how to produce one."""
    metadata_path = directory / METADATA_FILE
    if not metadata_path.is_file():
        raise ModelNotFoundError(
            f"no model in {directory}: train and promote one with `make pipeline`"
        )
    metadata = ModelMetadata.model_validate(json.loads(metadata_path.read_text(encoding="utf-8")))
    pipeline: Pipeline = joblib.load(directory / MODEL_FILE)
    return pipeline, metadata
