"""The servable model on disk: the fitted pipeline plus metadata, in one directory.

The promotion step exports the champion here from the tracker's registry, so the API and
its container image load a plain directory and never need the tracker.

An export never changes a directory in place: it writes a sibling temporary directory and
swaps it in with two renames (`os.replace`), so a reader sees the old model or the new one,
never a mix, and a crash leaves either of them (plus a stray temporary directory, removed by
the next export). The metadata records the model file's SHA-256, so a damaged file is
refused at load time instead of served.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
from pydantic import BaseModel, Field
from sklearn.pipeline import Pipeline

from ..security import TrustedSigner
from ..tasks import TASK
from .provenance import UntrustedModelError, sha256_of, verify

MODEL_FILE = "model.joblib"
METADATA_FILE = "metadata.json"
FloatArray = np.ndarray[Any, np.dtype[np.float64]]


def predict_output(pipeline: Pipeline, frame: pd.DataFrame) -> FloatArray:
    """The task's output for each row (P(positive), class probabilities or the value;
    tasks/base.py Task.output), from the fitted pipeline itself (the reference every faster
    scorer is checked against). The model inputs are picked from `frame` in contract order,
    so extra columns such as the label do no harm. Its fixed cost per call is a few
    milliseconds: the API serves the compiled form (serving/scorer.py)."""
    return TASK.output(pipeline, frame)


def estimator_of(pipeline: Pipeline) -> Any:
    """The fitted estimator inside a trained pipeline (behind its decision threshold, if any)."""
    return getattr(pipeline[-1], "estimator_", pipeline[-1])


def inputs_of(pipeline: Pipeline) -> list[str]:
    """The columns a trained pipeline was fitted on, in order: the contract's model inputs
    when it was trained, which may not be today's."""
    return [str(name) for name in pipeline.feature_names_in_]


def threshold_of(pipeline: Any) -> float | None:
    """The decision threshold a trained pipeline carries (binary: its last step's; None for a
    task without one): a model version and its threshold are served, rolled back and
    audited together."""
    return TASK.threshold_of(pipeline)


def challenger_dir_of(model_dir: Path) -> Path:
    """Where the shadow challenger is exported: beside the champion's directory."""
    return model_dir.parent / "challenger"


class ModelNotFoundError(FileNotFoundError):
    """No model has been exported to the directory yet."""


class CorruptModelError(ValueError):
    """The directory holds a model that cannot be loaded (damaged or incomplete files)."""

    def __init__(self, message: str, previous_version: str | None = None) -> None:
        super().__init__(message)
        self.previous_version = previous_version


class ServingCost(BaseModel):
    """What serving a model costs, measured by serving/cost.py: one applicant's latency, a
    batch's throughput and, when a champion was there to compare with, the same figures of
    the champion and the ratio the promotion gate bounds (gate.max_latency_ratio)."""

    p50_ms: float
    p99_ms: float
    rows_per_second: float
    cost_per_million: float | None = Field(
        default=None, description="Per million predictions, at serve.instance_cost_per_hour."
    )
    champion_version: str | None = None
    champion_p50_ms: float | None = None
    champion_rows_per_second: float | None = None
    latency_ratio: float | None = Field(
        default=None,
        description="The candidate's time over the champion's (CPU time, the median of paired "
        "rounds; the larger of one applicant's and a batch's).",
    )

    def metrics(self) -> dict[str, float]:
        """The figures as the tracker's metrics."""
        figures = {
            "serving_p50_ms": self.p50_ms,
            "serving_p99_ms": self.p99_ms,
            "serving_rows_per_second": self.rows_per_second,
            "serving_cost_per_million": self.cost_per_million,
            "serving_latency_ratio": self.latency_ratio,
        }
        return {name: value for name, value in figures.items() if value is not None}


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
        default={}, description="The data and code it was trained on (see registry/lineage.py)."
    )
    model_sha256: str | None = Field(
        default=None, description="Checksum of the model file, written by `save`."
    )
    previous_version: str | None = Field(
        default=None, description="The version this export replaced (a rollback target)."
    )
    serving: ServingCost | None = Field(
        default=None, description="Its serving cost, measured when it was trained."
    )


def current_version(directory: Path) -> str | None:
    """The version exported to `directory` (None when there is none or it is unreadable)."""
    try:
        raw = json.loads((directory / METADATA_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    version = raw.get("version") if isinstance(raw, dict) else None
    return str(version) if version is not None else None


def _staging(directory: Path) -> Path:
    """A new temporary sibling of `directory` to write an export into (a crashed export's
    are removed first)."""
    directory.parent.mkdir(parents=True, exist_ok=True)
    for stale in directory.parent.glob(f".{directory.name}.*"):
        shutil.rmtree(stale, ignore_errors=True)
    return Path(tempfile.mkdtemp(prefix=f".{directory.name}.new-", dir=directory.parent))


def _swap_in(staging: Path, directory: Path, metadata: ModelMetadata) -> Path:
    """Write `metadata`, naming the version it replaces, into `staging` and put `staging`
    in the place of `directory` with two renames."""
    previous = current_version(directory)
    exported = metadata.model_copy(
        update={
            "model_sha256": sha256_of(staging / MODEL_FILE),
            "previous_version": previous if previous != metadata.version else None,
        }
    )
    (staging / METADATA_FILE).write_text(exported.model_dump_json(indent=2), encoding="utf-8")
    if directory.exists():
        retired = Path(tempfile.mkdtemp(prefix=f".{directory.name}.old-", dir=directory.parent))
        os.replace(directory, retired / directory.name)
        os.replace(staging, directory)
        shutil.rmtree(retired, ignore_errors=True)
    else:
        os.replace(staging, directory)
    return directory


def save(
    directory: Path,
    pipeline: Pipeline,
    metadata: ModelMetadata,
    seal: Callable[[Path], None] | None = None,
) -> Path:
    """Export the model and its metadata to `directory`, atomically (see the module's
    docstring); the metadata names the version it replaces. `seal` signs the export before
    it is swapped in (provenance.sign), so that it never stands there unsigned."""
    directory = directory.absolute()
    staging = _staging(directory)
    joblib.dump(pipeline, staging / MODEL_FILE)
    if seal is not None:
        seal(staging)
    return _swap_in(staging, directory, metadata)


def copy(
    source: Path,
    directory: Path,
    metadata: ModelMetadata | None = None,
    signers: Sequence[TrustedSigner] | None = None,
) -> Path:
    """Export the model files in `source` to `directory` as they are, signature included,
    atomically, with `metadata` (default: the source's). With `signers`, the copy is
    verified first (provenance.UntrustedModelError, and nothing is replaced)."""
    directory = directory.absolute()
    if metadata is None:
        text = (source / METADATA_FILE).read_text(encoding="utf-8")
        metadata = ModelMetadata.model_validate_json(text)
    staging = _staging(directory)
    shutil.copytree(source, staging, dirs_exist_ok=True)
    try:
        if signers is not None:
            verify(staging, signers, metadata.version, metadata.lineage.get("data_md5"))
    except UntrustedModelError as error:  # said of the directory it was meant for
        shutil.rmtree(staging, ignore_errors=True)
        raise UntrustedModelError(str(error).replace(str(staging), str(directory))) from None
    return _swap_in(staging, directory, metadata)


def load(
    directory: Path, signers: Sequence[TrustedSigner] | None, *, candidate: bool = False
) -> tuple[Pipeline, ModelMetadata]:
    """Load a saved model, or raise ModelNotFoundError saying how to produce one, or
    CorruptModelError when its files are damaged or, with `signers`, not signed by one of
    them as they are, as a promoted model (or, `candidate`, as training's candidate:
    registry/provenance.py). None: the files are trusted as they are (the canary's copy of
    a candidate the gate verified, a metadata read)."""
    metadata_path = directory / METADATA_FILE
    if not metadata_path.is_file():
        raise ModelNotFoundError(
            f"no model in {directory}: train and promote one with `make pipeline`"
        )
    try:
        metadata = ModelMetadata.model_validate_json(metadata_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise CorruptModelError(f"unreadable {metadata_path}: {error}") from error
    model_path = directory / MODEL_FILE
    try:
        if metadata.model_sha256 is not None and sha256_of(model_path) != metadata.model_sha256:
            raise CorruptModelError(
                f"{model_path} does not match the checksum in {METADATA_FILE}",
                metadata.previous_version,
            )
        if signers is not None:  # before anything is unpickled
            data_md5 = metadata.lineage.get("data_md5")
            verify(directory, signers, metadata.version, data_md5, candidate=candidate)
        pipeline: Pipeline = joblib.load(model_path)
    except UntrustedModelError as error:
        raise CorruptModelError(str(error), metadata.previous_version) from None
    except CorruptModelError:
        raise
    except Exception as error:  # unpickling raises many kinds of errors
        raise CorruptModelError(
            f"cannot load {model_path}: {error!r}", metadata.previous_version
        ) from error
    return pipeline, metadata
