"""Held-out evaluation: quality metrics, slices, fairness, calibration and explanations.

Everything a reviewer needs to decide whether a model may serve: the promotion gate reads
the metrics, the model card and the figures (figures.py) present the rest.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from fairlearn.metrics import (
    MetricFrame,
    demographic_parity_difference,
    equalized_odds_difference,
    selection_rate,
)
from sklearn.inspection import permutation_importance
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    brier_score_loss,
    f1_score,
    log_loss,
    precision_score,
    recall_score,
    roc_auc_score,
)
from sklearn.pipeline import Pipeline

from ..data.contract import COSTS, MODEL_INPUTS, TARGET, Costs
from ..registry.model_store import predict_probability, threshold_of
from .threshold import confusion, expected_cost

MIN_GROUP_SIZE = 20  # default: smaller groups are reported but too noisy to judge


@dataclass
class Evaluation:
    """The results of evaluating one model on one labelled batch."""

    metrics: dict[str, float]
    slices: dict[str, pd.DataFrame]
    importance: pd.DataFrame
    calibration: pd.DataFrame
    threshold: float
    y_true: np.ndarray = field(repr=False)
    probability: np.ndarray = field(repr=False)


def quality_metrics(
    y_true: np.ndarray,
    probability: np.ndarray,
    threshold: float = 0.5,
    costs: Costs = COSTS,
) -> dict[str, float]:
    """Ranking and calibration metrics, and the decisions' quality and expected cost at
    `threshold` (and at 0.5, the cost-blind default, for comparison)."""
    predicted = (probability >= threshold).astype(int)
    return {
        "roc_auc": float(roc_auc_score(y_true, probability)),
        "average_precision": float(average_precision_score(y_true, probability)),
        "accuracy": float(accuracy_score(y_true, predicted)),
        "precision": float(precision_score(y_true, predicted, zero_division=0)),
        "recall": float(recall_score(y_true, predicted, zero_division=0)),
        "f1": float(f1_score(y_true, predicted, zero_division=0)),
        "brier": float(brier_score_loss(y_true, probability)),
        "log_loss": float(log_loss(y_true, probability, labels=[0, 1])),
        "threshold": float(threshold),
        "expected_cost": expected_cost(y_true, predicted, costs),
        "expected_cost_at_half": expected_cost(y_true, (probability >= 0.5).astype(int), costs),
        **{name: float(count) for name, count in confusion(y_true, predicted).items()},
    }


def _slice_roc_auc(y_true: np.ndarray, probability: np.ndarray) -> float:
    # A slice with one class has no ROC AUC; NaN says so instead of failing.
    return float(roc_auc_score(y_true, probability)) if len(np.unique(y_true)) > 1 else np.nan


def slice_metrics(
    y_true: np.ndarray,
    probability: np.ndarray,
    groups: pd.Series,
    threshold: float = 0.5,
    min_group_size: int = MIN_GROUP_SIZE,
) -> tuple[pd.DataFrame, dict[str, float]]:
    """Per-group quality (fairlearn MetricFrame) and the fairness gaps across the groups
    of at least `min_group_size` rows (smaller ones are reported, too noisy to judge)."""
    predicted = (probability >= threshold).astype(int)
    frame = MetricFrame(
        metrics={
            "accuracy": accuracy_score,
            "recall": recall_score,
            "selection_rate": selection_rate,
        },
        y_true=y_true,
        y_pred=predicted,
        sensitive_features=groups,
    )
    by_group = frame.by_group.assign(
        roc_auc=MetricFrame(
            metrics=_slice_roc_auc, y_true=y_true, y_pred=probability, sensitive_features=groups
        ).by_group,
        count=groups.value_counts().reindex(frame.by_group.index),
    )
    judged = groups.isin(by_group.index[by_group["count"] >= min_group_size]).to_numpy()
    gaps = {
        "demographic_parity_difference": float(
            demographic_parity_difference(
                y_true[judged], predicted[judged], sensitive_features=groups[judged]
            )
        ),
        "equalized_odds_difference": float(
            equalized_odds_difference(
                y_true[judged], predicted[judged], sensitive_features=groups[judged]
            )
        ),
    }
    return by_group, gaps


def expected_calibration_error(calibration: pd.DataFrame) -> float:
    weights = calibration["count"] / calibration["count"].sum()
    return float((weights * (calibration["observed"] - calibration["predicted"]).abs()).sum())


def calibration_table(y_true: np.ndarray, probability: np.ndarray, bins: int = 10) -> pd.DataFrame:
    """Mean predicted probability vs observed frequency in quantile bins of the prediction."""
    frame = pd.DataFrame(
        {"bin": pd.qcut(probability, q=bins, duplicates="drop", labels=False),
         "predicted": probability, "observed": y_true}
    )  # fmt: skip
    table = frame.groupby("bin").agg(
        predicted=("predicted", "mean"), observed=("observed", "mean"), count=("observed", "size")
    )
    return table.reset_index(drop=True)


def importance_table(pipeline: Pipeline, frame: pd.DataFrame, seed: int) -> pd.DataFrame:
    """Permutation importance of each raw input on held-out ROC AUC (model-agnostic)."""
    result = permutation_importance(
        pipeline,
        frame[list(MODEL_INPUTS)],
        frame[TARGET.name],
        scoring="roc_auc",
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
    costs: Costs = COSTS,
    min_group_size: int = MIN_GROUP_SIZE,
) -> Evaluation:
    """Evaluate a fitted pipeline, at its own decision threshold, on a labelled, sliced
    batch (see data.read_processed)."""
    y_true = frame[TARGET.name].to_numpy()
    probability = predict_probability(pipeline, frame)
    threshold = threshold_of(pipeline)
    metrics = quality_metrics(y_true, probability, threshold, costs)
    slices = {}
    for feature in sensitive_features:
        slices[feature], gaps = slice_metrics(
            y_true, probability, frame[feature].reset_index(drop=True), threshold, min_group_size
        )
        metrics.update({f"{name}_{feature}": value for name, value in gaps.items()})
    calibration = calibration_table(y_true, probability)
    metrics["expected_calibration_error"] = expected_calibration_error(calibration)
    return Evaluation(
        metrics=metrics,
        slices=slices,
        importance=importance_table(pipeline, frame, seed),
        calibration=calibration,
        threshold=threshold,
        y_true=y_true,
        probability=probability,
    )
