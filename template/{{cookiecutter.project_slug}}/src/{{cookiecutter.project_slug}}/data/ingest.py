"""Getting data in: load and validate the raw batch, split it, replay a drifted batch, and
read a batch to check (`monitor --current`).

`load_raw` is the one place to change when the data comes from somewhere else (a
warehouse query, a feature store, object storage): everything downstream takes a
validated DataFrame.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..config import DataSettings
from .contract import COLUMNS, CONTRACT, TARGET, validate


def load_raw(path: Path) -> pd.DataFrame:
    """Read the labelled raw data and enforce the data contract."""
    if not path.is_file():
        raise FileNotFoundError(
            f"raw data not found at {path}: run `dvc pull` or check params.yaml"
        )
    return validate(pd.read_csv(path), source=path)


def add_slices(frame: pd.DataFrame) -> pd.DataFrame:
    """Columns used to slice evaluation and fairness checks (contract.yaml `slices`; never
    model inputs)."""
    return frame.assign(
        **{name: bucket.groups(frame[bucket.column]) for name, bucket in CONTRACT.slices.items()}
    )


def split(frame: pd.DataFrame, test_size: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Stratified train/test split; deterministic for a given seed."""
    # Here, not at the top: reading and validating a batch (`monitor --current`, a contract
    # breach) answers without loading scikit-learn.
    from sklearn.model_selection import train_test_split

    train, test = train_test_split(
        frame, test_size=test_size, random_state=seed, stratify=frame[TARGET.name]
    )
    return train.reset_index(drop=True), test.reset_index(drop=True)


def simulate_current_batch(frame: pd.DataFrame, share: float, seed: int) -> pd.DataFrame:
    """A 'production' batch after an economic shift: larger and longer credits, younger
    applicants, emptier accounts. It stays inside the data contract (it is valid data,
    just different), which is exactly what drift monitoring must catch."""
    rng = np.random.default_rng(seed)
    batch = frame.sample(frac=share, random_state=seed).reset_index(drop=True)
    batch["credit_amount"] = (batch["credit_amount"] * rng.uniform(1.3, 1.8, len(batch))).round()
    batch["duration"] = (batch["duration"] + rng.choice([6, 12, 18], len(batch))).clip(upper=120)
    batch["age"] = (batch["age"] - rng.integers(3, 10, len(batch))).clip(lower=18)
    poorer = rng.random(len(batch)) < 0.4
    batch.loc[poorer, "checking_account"] = "little"
    batch.loc[poorer, "saving_accounts"] = "little"
    return validate(batch.astype(frame.dtypes.to_dict()))


@dataclass(frozen=True)
class ProcessedPaths:
    """Files the ingest step writes (DVC tracks them as its outputs)."""

    train: Path
    test: Path
    current: Path

    @classmethod
    def under(cls, directory: Path) -> ProcessedPaths:
        return cls(directory / "train.csv", directory / "test.csv", directory / "current.csv")


def ingest(settings: DataSettings, seed: int) -> ProcessedPaths:
    """Validate the raw data, split it and write train, test and current batches."""
    raw = load_raw(settings.raw_path)
    train, test = split(raw, settings.test_size, seed)
    current = simulate_current_batch(test, settings.current_size, seed)
    paths = ProcessedPaths.under(settings.processed_dir)
    settings.processed_dir.mkdir(parents=True, exist_ok=True)
    for frame, path in ((train, paths.train), (test, paths.test), (current, paths.current)):
        frame.to_csv(path, index=False)
    return paths


def read_processed(path: Path) -> pd.DataFrame:
    """A processed batch, validated again (files on disk can be edited) and sliced."""
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: run the ingest step first (`make pipeline`)")
    return add_slices(validate(pd.read_csv(path), source=path))


COLUMNS_OUTSIDE_MODEL = tuple(c.name for c in COLUMNS if not c.model_input)


class EmptyBatchError(ValueError):
    """The batch to monitor has no rows."""


def read_batch(path: Path) -> pd.DataFrame:
    """A batch to check, validated against the data contract: labelled, unlabelled, or
    model inputs only (e.g. logged API requests, which carry no protected attributes)."""
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found")
    try:
        frame = pd.read_csv(path)
    except pd.errors.EmptyDataError:
        raise EmptyBatchError(f"the batch is empty: {path} has no header and no rows") from None
    if frame.empty:
        raise EmptyBatchError(f"the batch is empty: {path} has a header but no rows")
    labelled = TARGET.name in frame.columns
    inputs_only = not set(COLUMNS_OUTSIDE_MODEL) & set(frame.columns)
    return validate(frame, with_target=labelled, inputs_only=inputs_only, source=path)
