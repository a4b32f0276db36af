"""What `adopt` (adopt.py) reads from a labelled CSV, and the rules by which it infers the
data contract from the data alone (the documentation repeats them):

* dtype: int for a column pandas reads as integers (no missing values), float for any
  other number, str otherwise; a str column lists its categories.
* bounds: the observed range widened by BOUNDS_MARGIN of its width on each side (a column
  never below 0 keeps 0 as its floor), rounded outward, so that new data slightly outside
  the sample passes and data far outside it is refused.
* role: feature, unless named by --sensitive, --id or --time; an identifier-like column
  (an int or str value on every row different, or a str column with more distinct values
  than half its rows) becomes an identifier and a constant column is ignored.
* task (without --task): 2 distinct target values are binary; int or str targets with at
  most MAX_CLASSES values are multiclass; any other numeric target is regression.

Refusals raise AdoptError (one line) before anything is written.
"""

from __future__ import annotations

import io
import math
import re
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

Task = Literal["binary", "multiclass", "regression"]

# Each side of a numeric column's observed range is widened by this share of its width.
BOUNDS_MARGIN = 0.1
# Every class needs this many rows: the stratified split keeps 80% of them for training,
# and the 5-fold cross-validation then still finds each class in every fold.
MIN_ROWS_PER_CLASS = 10
# More target values than this, or a float target, is regression (or refused for a str).
MAX_CLASSES = 20
# A feature that alone ranks (ROC AUC), groups (purity) or orders (rank correlation) the
# target this well is probably derived from it: a leak.
LEAKAGE_THRESHOLD = 0.98
# A numeric sensitive column is sliced at these quantiles for the fairness checks (one
# bucket per value when it has at most SLICE_VALUES of them, e.g. a 1/2 code).
SLICE_QUANTILES = (0.25, 0.5, 0.75)
SLICE_VALUES = 5
DOWNLOAD_TIMEOUT_SECONDS = 60


class AdoptError(ValueError):
    """The data cannot be adopted; the message is one line naming the source and why."""


@dataclass(frozen=True)
class Options:
    """What the user said about the data (the command's options)."""

    target: str
    task: Task | None = None
    sensitive: tuple[str, ...] = ()
    identifier: str | None = None
    event_time: str | None = None
    positive: str | None = None  # the class to score when a binary target is not 0/1


def read_source(source: str) -> bytes:
    """The bytes of a local file or of an http(s) URL."""
    if source.startswith(("http://", "https://")):
        try:
            # The scheme is checked above: only http(s) is opened, never file:// or ftp://.
            with urllib.request.urlopen(source, timeout=DOWNLOAD_TIMEOUT_SECONDS) as answer:  # noqa: S310
                return bytes(answer.read())
        except (OSError, ValueError) as error:
            raise AdoptError(f"{source}: cannot download it ({error})") from None
    path = Path(source)
    if not path.is_file():
        raise AdoptError(f"{source}: no such file")
    return path.read_bytes()


def file_name(source: str) -> str:
    """data/raw/<name>.csv: the source's own name, lower-case letters, digits and _."""
    stem = Path(source.split("?")[0].rstrip("/")).stem
    name = re.sub(r"[^a-z0-9]+", "_", stem.lower()).strip("_")
    return f"{name or 'data'}.csv"


def parse(source: str, data: bytes) -> pd.DataFrame:
    """The CSV as a table, or AdoptError when it is not one."""
    try:
        frame = pd.read_csv(io.BytesIO(data))
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise AdoptError(f"{source}: not a readable CSV file ({reason})") from None
    if frame.empty or len(frame.columns) < 2:
        raise AdoptError(
            f"{source}: not a readable CSV file (it needs a header, a target "
            f"and a feature column, and rows; got {frame.shape[0]} row(s), "
            f"{frame.shape[1]} column(s))"
        )
    return frame


def _mixed(values: pd.Series) -> str | None:
    """Why a text column holds numbers and words together, or None."""
    if values.dtype != object:
        return None
    text = values.dropna().astype(str)
    numeric = pd.to_numeric(text, errors="coerce").notna()
    if numeric.all() or not numeric.any():
        return None
    numbers, words = text[numeric], text[~numeric]
    return (
        f"mixed types: {len(numbers)} number(s) (e.g. {numbers.iloc[0]!r}) "
        f"and {len(words)} text value(s) (e.g. {words.iloc[0]!r})"
    )


def dtype_of(values: pd.Series) -> Literal["int", "float", "str"]:
    if pd.api.types.is_bool_dtype(values):
        return "str"
    if pd.api.types.is_integer_dtype(values):
        return "int"
    return "float" if pd.api.types.is_numeric_dtype(values) else "str"


def _round_out(value: float, up: bool, digits: int = 4) -> float:
    """`value` rounded away from the data to `digits` significant digits."""
    if value == 0 or not math.isfinite(value):
        return 0.0
    scale = 10 ** (digits - 1 - math.floor(math.log10(abs(value))))
    rounded = (math.ceil if up else math.floor)(value * scale) / scale
    return float(f"{rounded:.{digits}g}")


def bounds(values: pd.Series, dtype: str) -> tuple[float, float]:
    """The observed range widened by BOUNDS_MARGIN on each side (see the module's notes)."""
    low, high = float(values.min()), float(values.max())
    margin = BOUNDS_MARGIN * ((high - low) or abs(high) or 1.0)
    ge, le = low - margin, high + margin
    if low >= 0:
        ge = max(ge, 0.0)
    if dtype == "int":
        return float(math.floor(ge)), float(math.ceil(le))
    return _round_out(ge, up=False), _round_out(le, up=True)


def slice_edges(values: pd.Series, ge: float, le: float, dtype: str) -> list[float]:
    """Edges of a numeric sensitive column's groups: bucket i holds edges[i] <= value <
    edges[i + 1]; they cover [ge, le], as contract_file.py requires."""
    distinct = sorted(values.dropna().unique())
    if len(distinct) <= SLICE_VALUES:
        inner = [float(v) for v in distinct[1:]]
    else:
        inner = [_round_out(float(values.quantile(q)), up=False, digits=3) for q in SLICE_QUANTILES]
    top = le + 1 if dtype == "int" else _round_out(le + (le - ge or 1.0) / 100, up=True)
    edges = [ge, *(e for e in inner if ge < e <= le), top]
    return sorted(set(edges))


def infer_task(values: pd.Series, dtype: str, given: Task | None, target: str) -> Task:
    """The task (the module's notes), or AdoptError when --task does not fit the target."""
    distinct = values.nunique()
    if given is None:
        if distinct == 2:
            return "binary"
        if dtype in ("int", "str") and distinct <= MAX_CLASSES:
            return "multiclass"
        if dtype == "str":
            raise AdoptError(
                f"target {target!r}: {distinct} text values are too many "
                f"classes (at most {MAX_CLASSES}); a numeric target is regression"
            )
        return "regression"
    fits = {
        "binary": distinct == 2,
        "multiclass": distinct > 2 and dtype != "float",
        "regression": dtype != "str",
    }
    if not fits[given]:
        raise AdoptError(
            f"target {target!r}: --task {given} does not fit a {dtype} target "
            f"with {distinct} distinct values"
        )
    return given


def leakage(values: pd.Series, target: pd.Series, task: Task) -> float:
    """How well this one feature alone predicts the target (1.0: perfectly): ROC AUC of a
    numeric feature for a binary target, Spearman |rho| for regression, else the purity of
    its groups (categories, or 10 quantile bins of a number). Cheap, in-sample."""
    known = values.notna()
    values, target = values[known], target[known]
    numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    if task == "regression":
        rho = values.rank().corr(target.rank()) if numeric else 0.0
        return 0.0 if pd.isna(rho) else abs(float(rho))
    codes = pd.Series(pd.factorize(target, sort=True)[0], index=target.index)
    if task == "binary" and numeric:
        ranks = values.rank()
        positives = int(codes.sum())
        negatives = len(codes) - positives
        auc = (ranks[codes == 1].sum() - positives * (positives + 1) / 2) / (positives * negatives)
        return float(max(auc, 1 - auc))
    groups = pd.qcut(values, 10, duplicates="drop") if numeric else values
    majority = codes.groupby(groups, observed=True).agg(lambda c: c.value_counts().iloc[0])
    return float(majority.sum() / len(codes))


def identifier_like(values: pd.Series, dtype: str) -> bool:
    if dtype == "float" or values.isna().any():
        return False
    distinct = values.nunique()
    return distinct == len(values) or (dtype == "str" and distinct > len(values) / 2)


def check_target(frame: pd.DataFrame, options: Options, source: str) -> pd.Series:
    """The target column, or AdoptError: missing, with gaps, mixed or constant."""
    if options.target not in frame.columns:
        raise AdoptError(
            f"{source}: no column {options.target!r} to predict (columns: "
            f"{', '.join(map(str, frame.columns[:8]))}"
            f"{', ...' if len(frame.columns) > 8 else ''})"
        )
    values = frame[options.target]
    if values.isna().any():
        raise AdoptError(
            f"{source}: target {options.target!r} is missing on "
            f"{int(values.isna().sum())} row(s): drop or label them"
        )
    if (mixed := _mixed(values)) is not None:
        raise AdoptError(f"{source}: target {options.target!r} has {mixed}")
    if values.nunique() < 2:
        raise AdoptError(
            f"{source}: target {options.target!r} is constant "
            f"({values.iloc[0]!r} on every row): nothing to learn"
        )
    return values


def check_columns(frame: pd.DataFrame, options: Options, source: str) -> None:
    """Every named column exists and no column mixes numbers and text."""
    named = [*options.sensitive, options.identifier, options.event_time]
    for name in (n for n in named if n is not None):
        if name not in frame.columns or name == options.target:
            raise AdoptError(f"{source}: no column {name!r} (besides the target) to declare")
    for name in frame.columns:
        if (mixed := _mixed(frame[name])) is not None:
            raise AdoptError(f"{source}: column {name!r} has {mixed}: clean it first")


def class_labels(values: pd.Series, task: Task, options: Options, source: str) -> dict[Any, int]:
    """Source label -> contract label (0/1 for binary, 0..k-1 for text classes), or
    AdoptError when a class has fewer than MIN_ROWS_PER_CLASS rows or a binary target is
    not labelled 0 and 1 and --positive does not say which class to score."""
    counts = values.value_counts()
    if (counts < MIN_ROWS_PER_CLASS).any():
        few = ", ".join(f"{label!r}: {n}" for label, n in counts.items() if n < MIN_ROWS_PER_CLASS)
        raise AdoptError(
            f"{source}: target {options.target!r} has too few rows for a class "
            f"({few}; at least {MIN_ROWS_PER_CLASS} each)"
        )
    labels = sorted(counts.index, key=str)
    if task == "binary":
        if {str(label) for label in labels} == {"0", "1"} and options.positive in (None, "1"):
            return {label: int(str(label)) for label in labels}
        if options.positive is None or options.positive not in {str(v) for v in labels}:
            raise AdoptError(
                f"{source}: target {options.target!r} is labelled "
                f"{' and '.join(repr(str(v)) for v in labels)}, not 0 and 1: say "
                f"which class the model scores with --positive (e.g. --positive "
                f"{labels[-1]})"
            )
        return {label: int(str(label) == options.positive) for label in labels}
    if dtype_of(values) == "str":
        return {label: code for code, label in enumerate(labels)}
    return {label: int(label) for label in labels}


def relabel(data: bytes, target: str, mapping: dict[Any, int]) -> bytes:
    """The CSV with its target relabelled (every other value read and written as text)."""
    frame = pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False)
    frame[target] = frame[target].map({str(k): str(v) for k, v in mapping.items()})
    return frame.to_csv(index=False, lineterminator="\n").encode("utf-8")


def class_name(label: Any) -> str:
    """A class name as contract_file.py allows it (a Python identifier)."""
    name = re.sub(r"\W+", "_", str(label)).strip("_")
    return name if re.match(r"[A-Za-z_]", name) else f"class_{name}"


def first_complete_row(frame: pd.DataFrame, features: list[str]) -> dict[str, Any]:
    """The example request: the first row with every feature present (else the first)."""
    complete = frame[features].dropna()
    row = (complete if not complete.empty else frame[features]).iloc[0]
    return {
        str(name): None if pd.isna(v) else v.item() if isinstance(v, np.generic) else v
        for name, v in row.items()
    }
