"""What the tests take from the data contract (contract.yaml): the columns, classes and
attributes to exercise, and `cases`, which parametrizes a test over them or, when the
contract declares none, skips it with a reason naming the contract's choice."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from {{ cookiecutter.project_slug }}.data.contract import COLUMNS, CONTRACT, EXAMPLE, Column

CONTRACT_FILE = CONTRACT.path.name
INPUT_COLUMNS = tuple(c for c in COLUMNS if c.model_input)
CATEGORICAL = tuple(c for c in INPUT_COLUMNS if c.categories)
NUMERIC = tuple(c for c in INPUT_COLUMNS if not c.categories)
# Inputs with both bounds declared: the edges of the contract a model must score.
BOUNDED = tuple(c for c in NUMERIC if c.ge is not None and c.le is not None)
SENSITIVE_COLUMNS = tuple(c for c in COLUMNS if c.role == "sensitive")
NOT_INPUTS = tuple(c for c in COLUMNS if not c.model_input)

NO_FAIRNESS = f"{CONTRACT_FILE} declares no fairness attribute (`fairness: []`)"
NO_SENSITIVE = f"{CONTRACT_FILE} declares no sensitive column"
NO_CATEGORICAL = f"{CONTRACT_FILE} declares no categorical model input"
NO_NUMERIC = f"{CONTRACT_FILE} declares no numeric model input"
NO_DERIVED = f"{CONTRACT_FILE} declares no derived feature"
NO_SLICES = f"{CONTRACT_FILE} declares no slice"
NO_EXPECTATIONS = f"{CONTRACT_FILE} declares no `expectations`"


def cases(values: Sequence[Any], reason: str) -> list[Any]:
    """`values` as parameters (columns by name), or one skipped case saying why there are
    none: never an empty parameter set, which pytest would report as one silent skip."""
    if values:
        return [pytest.param(v, id=v.name if isinstance(v, Column) else str(v)) for v in values]
    return [pytest.param(None, marks=pytest.mark.skip(reason=reason), id="none")]


# The evaluation's figures of each task (tasks/), beside permutation importance.
TASK_FIGURES = {
    "binary": {"roc_curve", "confusion_matrix", "calibration"},
    "multiclass": {"confusion_matrix", "confidence", "calibration"},
    "regression": {"predicted_vs_actual", "residuals"},
}


def answered(prediction: dict[str, Any]) -> Any:
    """A prediction's value as the API answers it: the probability (binary), every class's
    probability (multiclass, in class order) or the predicted value (regression)."""
    if "probabilities" in prediction:
        return [prediction["probabilities"][name] for name in CONTRACT.class_names]
    return prediction.get("probability", prediction.get("prediction"))


def for_tasks(*tasks: str, why: str) -> pytest.MarkDecorator:
    """Skip a test on the other tasks, naming the contract's choice and `why` it cannot
    apply there (e.g. only a binary model has a threshold)."""
    return pytest.mark.skipif(
        CONTRACT.task not in tasks,
        reason=f"{CONTRACT_FILE} declares task: {CONTRACT.task}; {why}",
    )


def require(condition: object, reason: str) -> None:
    """Skip the calling test, saying why, unless the contract offers what it needs."""
    if not condition:
        pytest.skip(reason)


def invalid_value(column: Column) -> Any:
    """A value the contract refuses for `column`: an undeclared category, or a number
    below (else above) its bounds; None when it declares neither."""
    if column.categories:
        return "never declared"
    if column.ge is not None:
        return column.ge - 1
    return None if column.le is None else column.le + 1


# The first column with a value the contract refuses (every contract has the target's).
BREAKABLE = next((c for c in COLUMNS if invalid_value(c) is not None), None)


def distinctive_row() -> dict[str, Any]:
    """A valid request unlike any number a log line carries anyway (counts, 0/1 labels):
    each numeric input inside its bounds at an odd point, each categorical input at its last
    category."""
    row = dict(EXAMPLE)
    for column in INPUT_COLUMNS:
        if column.categories:
            row[column.name] = column.categories[-1]
            continue
        low = column.ge if column.ge is not None else float(EXAMPLE[column.name])
        high = column.le if column.le is not None else low + 1000
        value = low + (high - low) * 0.4837
        row[column.name] = round(value) if column.dtype is int else round(value, 4)
    return row
