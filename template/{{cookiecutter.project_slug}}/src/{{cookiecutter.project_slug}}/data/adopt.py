"""Bring your own data: `adopt <file|URL> --target <column>` copies a labelled CSV under
data/raw/, infers its data contract (inference.py states the rules) and points the project
at it (adopt_files.py writes contract.yaml, params.yaml and dvc.yaml). Nothing is written
when the data is refused, and adopting the same data twice changes nothing."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from .contract_file import DTYPES
from .inference import (
    LEAKAGE_THRESHOLD,
    AdoptError,
    Options,
    Task,
    bounds,
    check_columns,
    check_target,
    class_labels,
    class_name,
    dtype_of,
    file_name,
    first_complete_row,
    identifier_like,
    infer_task,
    leakage,
    parse,
    read_source,
    relabel,
    slice_edges,
)

__all__ = ["AdoptError", "Adopted", "Options", "infer", "report"]

ROW_NOUN = "row"  # what one row is, until the contract says better (row_noun)


@dataclass(frozen=True)
class Adopted:
    """The data to write under data/raw/ and the contract inferred from it (a mapping in
    contract.yaml's shape), with what the user should know about the inference."""

    source: str
    options: Options
    name: str  # the file's name under data/raw/
    data: bytes  # the source's bytes, or relabelled ones (`relabelled`)
    rows: int
    task: Task
    contract: dict[str, Any]
    class_rows: dict[int, int]  # rows of each class (contract label)
    warnings: list[str] = field(default_factory=list)
    relabelled: dict[str, int] = field(default_factory=dict)  # source label -> contract label


def _number(value: float, dtype: str) -> int | float:
    return int(value) if dtype == "int" else value


def _role(name: str, values: pd.Series, dtype: str, options: Options) -> tuple[str, str | None]:
    """The column's role, and why it is not the default (a feature) when it was inferred."""
    if name in options.sensitive:
        return "sensitive", None
    if name == options.identifier:
        return "identifier", None
    if name == options.event_time:
        return "event_time", None
    distinct = values.nunique()
    if distinct < 2:
        return "ignored", "constant"
    if identifier_like(values, dtype):
        return "identifier", f"identifier-like ({distinct} distinct values in {len(values)} rows)"
    return "feature", None


def _column(name: str, values: pd.Series, role: str, source: str) -> dict[str, Any]:
    """One column's entry in contract.yaml."""
    dtype = dtype_of(values)
    known = values.dropna()
    spec: dict[str, Any] = {"dtype": dtype}
    if dtype == "str":
        categories = sorted({str(v) for v in known})
        spec["description"] = f"{name}: {len(categories)} categories in {source}"
        if role in ("feature", "sensitive", "ignored"):  # an identifier or time: any value
            spec["categories"] = categories
    else:
        ge, le = bounds(known, dtype)
        spec["description"] = (
            f"{name}: {dtype}, {_number(float(known.min()), dtype)} to "
            f"{_number(float(known.max()), dtype)} in {source}"
        )
        if role not in ("identifier", "event_time"):  # new ids and times leave the range
            spec.update(ge=_number(ge, dtype), le=_number(le, dtype))
    if values.isna().any():
        spec["nullable"] = True
    spec["role"] = role
    return spec


def _target(values: pd.Series, task: Task, labels: dict[Any, int], name: str) -> dict[str, Any]:
    """The target's entry: its classes (the positive one, 1, first) unless it is a number."""
    if task == "regression":
        return {
            "name": name,
            "description": f"{name}: the value to predict, "
            f"{values.min()} to {values.max()} in the source data",
        }
    # A binary contract names its positive class first, like the one it replaces.
    ordered = sorted(labels.items(), key=lambda item: -item[1] if task == "binary" else item[1])
    target: dict[str, Any] = {
        "name": name,
        "description": f"{name}: "
        + ", ".join(f"{code} = {class_name(label)}" for label, code in ordered),
    }
    if task == "binary":
        target["positive"] = 1
    target["classes"] = {
        code: {"name": class_name(label), "meaning": f"{name} = {label} in the source data"}
        for label, code in ordered
    }
    return target


def _example_value(value: Any, dtype: str) -> Any:
    if value is None:
        return None
    return DTYPES[dtype](value)


def infer(source: str, options: Options) -> Adopted:
    """Read `source` (a path or an http(s) URL) and infer its contract; AdoptError (one
    line) when it cannot be adopted."""
    raw = read_source(source)
    frame = parse(source, raw)
    frame.columns = [str(c) for c in frame.columns]
    name = file_name(source)
    shown = f"data/raw/{name}"
    target = check_target(frame, options, source)
    check_columns(frame, options, source)
    task = infer_task(target, dtype_of(target), options.task, options.target)
    labels = {} if task == "regression" else class_labels(target, task, options, source)
    relabelled = {str(k): v for k, v in labels.items() if str(k) != str(v)}
    warnings: list[str] = []
    columns: dict[str, dict[str, Any]] = {}
    for column in (c for c in frame.columns if c != options.target):
        values = frame[column]
        role, why = _role(column, values, dtype_of(values), options)
        columns[column] = _column(column, values, role, shown)
        if why is not None:
            warnings.append(f"column {column!r} is {why}: made {role}, not a model input")
        elif role == "feature":
            score = leakage(values, target, task)
            if score >= LEAKAGE_THRESHOLD:
                warnings.append(
                    f"column {column!r} alone predicts {options.target!r} "
                    f"({score:.3f}): a leak? (derived from the target, or known "
                    "only after it) make it ignored if so"
                )
    slices: dict[str, dict[str, Any]] = {}
    fairness: list[str] = []
    for column in options.sensitive:
        spec = columns[column]
        if spec["dtype"] == "str":
            fairness.append(column)
            continue
        edges = slice_edges(frame[column], spec["ge"], spec["le"], spec["dtype"])
        slices[f"{column}_group"] = {
            "column": column,
            "edges": [_number(e, spec["dtype"]) for e in edges],
        }
        fairness.append(f"{column}_group")
    features = [c for c, spec in columns.items() if spec["role"] == "feature"]
    if not features:
        raise AdoptError(
            f"{source}: no column is left as a model input (every one is the "
            "target, sensitive, an identifier, a time or constant)"
        )
    example = {
        c: _example_value(v, columns[c]["dtype"])
        for c, v in first_complete_row(frame, features).items()
    }
    contract: dict[str, Any] = {
        "task": task,
        "row_noun": ROW_NOUN,
        "target": _target(target, task, labels, options.target),
        "columns": columns,
        "slices": slices,
        "fairness": fairness,
        "example": example,
    }
    data = relabel(raw, options.target, labels) if relabelled else raw
    counts = {labels[k]: int(n) for k, n in target.value_counts().items()} if labels else {}
    return Adopted(
        source, options, name, data, len(frame), task, contract, counts, warnings, relabelled
    )


def report(adopted: Adopted) -> tuple[list[str], list[str]]:
    """What adopt decided, and what the user should review."""
    contract, options = adopted.contract, adopted.options
    target, columns = contract["target"], contract["columns"]
    how = "--task" if options.task else "inferred from the target's values"
    decided = [f"task: {adopted.task} ({how})"]
    if adopted.class_rows:
        classes = ", ".join(
            f"{code} = {spec['name']} ({adopted.class_rows[code]} rows"
            f"{', scored' if code == target.get('positive') else ''})"
            for code, spec in target["classes"].items()
        )
        decided.append(f"target: {target['name']}, classes {classes}")
    else:
        decided.append(f"target: {target['name']} (a number)")
    if adopted.relabelled:
        mapping = ", ".join(f"{k!r} -> {v}" for k, v in adopted.relabelled.items())
        decided.append(f"relabelled the target in data/raw/{adopted.name}: {mapping}")
    for role in ("feature", "sensitive", "identifier", "event_time", "ignored"):
        names = [n for n, spec in columns.items() if spec["role"] == role]
        if names:
            decided.append(f"{role} ({len(names)}): {', '.join(names)}")
    dropped = [n for n, spec in columns.items() if spec["role"] != "feature"]
    decided.append(f"not model inputs: {', '.join(dropped) or 'none'}")
    decided.append(f"fairness: {', '.join(contract['fairness']) or 'none'}")
    review = [
        "contract.yaml: describe each column and class (description, meaning) and say what "
        f"one row is (row_noun: {ROW_NOUN})",
        "contract.yaml: check each column's role, categories and bounds",
    ]
    if not contract["fairness"]:
        review.append(
            "no sensitive column: name protected attributes with --sensitive so "
            "the fairness checks and the gate cover them"
        )
    review += [f"{w}" for w in adopted.warnings if "alone predicts" in w]
    review.append(
        "contract.yaml: known_weak_inputs: after `make test`, list the inputs it reports "
        "no better than noise (ML Test Score Data 2), or [] if none"
    )
    review.append("data/raw/README.md: where the data comes from, its licence and columns")
    return decided, review
