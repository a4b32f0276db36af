"""Getting data in: load and validate the raw batch, split it, replay a drifted batch, and
read a batch to check (`monitor --current`).

The processed splits are Parquet: the steps after ingest read the columns they need with
their types, instead of parsing text and inferring them again.

`load_raw` is the one place to change when the data comes from somewhere else (a
warehouse query, a feature store, object storage): everything downstream takes a
validated DataFrame.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from ..compute import LOCAL, Engine
from ..config import DataSettings
from .contract import COLUMNS, CONTRACT, TARGET, validate


def load_raw(path: Path, engine: Engine = LOCAL) -> pd.DataFrame:
    """Read the labelled raw data and enforce the data contract (the engine validates
    batches of its rows)."""
    if not path.is_file():
        raise FileNotFoundError(
            f"raw data not found at {path}: run `dvc pull` or check params.yaml"
        )
    return engine.map_frame(partial(validate, source=path), pd.read_csv(path))


def add_slices(frame: pd.DataFrame) -> pd.DataFrame:
    """Columns used to slice evaluation and fairness checks (contract.yaml `slices`; never
    model inputs)."""
    return frame.assign(
        **{name: bucket.groups(frame[bucket.column]) for name, bucket in CONTRACT.slices.items()}
    )


def split(frame: pd.DataFrame, test_size: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Train/test split, stratified by class (a regression target has none); deterministic
    for a given seed."""
    # Here, not at the top: reading and validating a batch (`monitor --current`, a contract
    # breach) answers without loading scikit-learn.
    from sklearn.model_selection import train_test_split

    train, test = train_test_split(
        frame,
        test_size=test_size,
        random_state=seed,
        stratify=None if CONTRACT.task == "regression" else frame[TARGET.name],
    )
    return train.reset_index(drop=True), test.reset_index(drop=True)


# How much the simulated world grows each numeric model input (a factor drawn per row).
GROWTH = (1.3, 1.8)


def shift_world(
    batch: pd.DataFrame, rng: np.random.Generator, reference: pd.DataFrame
) -> pd.DataFrame:
    """The batch in a changed world, derived from the contract alone: every numeric model
    input grows by 30-80% (kept within its declared bounds), or, where its upper bound has
    no room for that (the median of `reference` grown by the mean factor passes it), moves
    30-80% of the way to that bound; in every categorical model input an upstream system
    swaps the codes of the two categories most frequent in `reference` (the same two in
    every batch), so the relation a model learned no longer holds. It stays inside the data
    contract (it is valid data, just different), which is exactly what drift monitoring
    must catch."""
    batch = batch.copy()
    for column in COLUMNS:
        if not column.model_input:
            continue
        values = batch[column.name]
        if column.categories:
            counts = reference[column.name].value_counts().sort_index()
            top = counts.sort_values(ascending=False, kind="stable").index[:2]
            if len(top) == 2:
                swap = {top[0]: top[1], top[1]: top[0]}
                batch[column.name] = values.mask(values.isin(swap), values.map(swap))
            continue
        factor = rng.uniform(*GROWTH, len(batch))
        if column.le is not None and np.mean(GROWTH) * reference[column.name].median() > column.le:
            # Capping growth at the bound would pile the batch onto it (an upper bound inferred
            # from the data sits just above its largest value): move into the room instead.
            grown = values + (column.le - values) * (factor - 1)
        else:
            grown = (values * factor).clip(column.ge, column.le)
        batch[column.name] = grown.round().astype(values.dtype) if column.dtype is int else grown
    return batch


def simulate_current_batch(frame: pd.DataFrame, share: float, seed: int) -> pd.DataFrame:
    """A 'production' batch of `frame` after the world changed (shift_world)."""
    rng = np.random.default_rng(seed)
    batch = frame.sample(frac=share, random_state=seed).reset_index(drop=True)
    return validate(shift_world(batch, rng, frame))


@dataclass(frozen=True)
class ProcessedPaths:
    """Files the ingest step writes (DVC tracks them as its outputs)."""

    train: Path
    test: Path
    current: Path

    @classmethod
    def under(cls, directory: Path) -> ProcessedPaths:
        return cls(*(directory / f"{name}.parquet" for name in ("train", "test", "current")))


def ingest(settings: DataSettings, seed: int, engine: Engine = LOCAL) -> ProcessedPaths:
    """Validate the raw data, split it and write train, test and current batches."""
    raw = load_raw(settings.raw_path, engine)
    train, test = split(raw, settings.test_size, seed)
    current = simulate_current_batch(test, settings.current_size, seed)
    paths = ProcessedPaths.under(settings.processed_dir)
    settings.processed_dir.mkdir(parents=True, exist_ok=True)
    for frame, path in ((train, paths.train), (test, paths.test), (current, paths.current)):
        frame.to_parquet(path, index=False)
    return paths


def read_processed(path: Path) -> pd.DataFrame:
    """A processed batch, validated again (files on disk can be edited) and sliced."""
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: run the ingest step first (`make pipeline`)")
    return add_slices(validate(pd.read_parquet(path), source=path))


COLUMNS_OUTSIDE_MODEL = tuple(c.name for c in COLUMNS if not c.model_input)


class EmptyBatchError(ValueError):
    """The batch to monitor has no rows."""


class UnreadableBatchError(ValueError):
    """The batch file is not the format its suffix names."""


def _read_table(path: Path) -> pd.DataFrame:
    """A CSV file or, by its suffix, a Parquet file (such as the processed current split)."""
    if path.suffix.lower() not in (".parquet", ".pq"):
        return pd.read_csv(path)
    try:
        return pd.read_parquet(path)
    except (OSError, ValueError) as error:  # pyarrow's ArrowInvalid is a ValueError
        raise UnreadableBatchError(f"{path} is not a readable Parquet file: {error}") from None


def read_batch(path: Path) -> pd.DataFrame:
    """A batch to check (CSV or Parquet), validated against the data contract: labelled,
    unlabelled, or model inputs only (e.g. logged API requests, which carry no protected
    attributes)."""
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found")
    try:
        frame = _read_table(path)
    except pd.errors.EmptyDataError:
        raise EmptyBatchError(f"the batch is empty: {path} has no header and no rows") from None
    if frame.empty:
        raise EmptyBatchError(f"the batch is empty: {path} has a header but no rows")
    labelled = TARGET.name in frame.columns
    inputs_only = not set(COLUMNS_OUTSIDE_MODEL) & set(frame.columns)
    return validate(frame, with_target=labelled, inputs_only=inputs_only, source=path)
