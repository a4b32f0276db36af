"""Held-out evaluation: the task's quality metrics, slices, fairness and explanations.

Everything a reviewer needs to decide whether a model may serve: the promotion gate reads
the metrics, the model card and the figures (figures.py) present the rest. What is
measured is the task's (tasks/): ROC AUC and costs for a classifier, errors for a regressor.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.inspection import permutation_importance
from sklearn.pipeline import Pipeline

from ..data.contract import MODEL_INPUTS, TARGET
from ..registry.model_store import predict_output, threshold_of
from ..tasks import TASK

MIN_GROUP_SIZE = 20  # default: smaller groups are reported but too noisy to judge


@dataclass
class Evaluation:
    """The results of evaluating one model on one labelled batch."""

    metrics: dict[str, float]
    slices: dict[str, pd.DataFrame]
    importance: pd.DataFrame
    threshold: float | None  # the binary decision threshold (None: the task has none)
    y_true: np.ndarray = field(repr=False)
    output: np.ndarray = field(repr=False)  # the task's output (tasks/base.py Task.output)


def _primary(pipeline: Pipeline, frame: pd.DataFrame, y_true: pd.Series) -> float:
    return TASK.primary_value(np.asarray(y_true), TASK.output(pipeline, frame))


def importance_table(pipeline: Pipeline, frame: pd.DataFrame, seed: int) -> pd.DataFrame:
    """Permutation importance of each raw input on the held-out primary metric (a loss in
    it: positive when permuting the input makes the model worse), model-agnostic."""
    sign = 1.0 if TASK.primary.higher_is_better else -1.0
    result = permutation_importance(
        pipeline,
        frame[list(MODEL_INPUTS)],
        frame[TARGET.name],
        scoring=lambda model, x, y: sign * _primary(model, x, y),
        n_repeats=5,
        random_state=seed,
    )
    return (
        pd.DataFrame(
            {"feature": list(MODEL_INPUTS), "importance": result.importances_mean,
             "std": result.importances_std}
        )
        .sort_values("importance", ascending=False)
        .reset_index(drop=True)
    )  # fmt: skip


def evaluate(
    pipeline: Pipeline,
    frame: pd.DataFrame,
    sensitive_features: list[str],
    seed: int,
    min_group_size: int = MIN_GROUP_SIZE,
) -> Evaluation:
    """Evaluate a fitted pipeline, with its own decision policy, on a labelled, sliced
    batch (see data.read_processed)."""
    y_true = frame[TARGET.name].to_numpy()
    output = predict_output(pipeline, frame)
    threshold = threshold_of(pipeline)
    metrics = TASK.metrics(y_true, output, threshold)
    slices = {}
    for feature in sensitive_features:
        judged = TASK.judge_groups(
            y_true, output, threshold, frame[feature].reset_index(drop=True), min_group_size
        )
        slices[feature] = judged.by_group
        metrics.update({f"{name}_{feature}": value for name, value in judged.gaps.items()})
    return Evaluation(
        metrics=metrics,
        slices=slices,
        importance=importance_table(pipeline, frame, seed),
        threshold=threshold,
        y_true=y_true,
        output=output,
    )
