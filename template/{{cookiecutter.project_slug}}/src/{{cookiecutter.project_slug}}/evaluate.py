"""Held-out evaluation: quality metrics, slices, fairness, calibration and explanations.

Everything a reviewer needs to decide whether a model may serve: the promotion gate reads
the metrics, the model card and the figures present the rest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display needed on servers and CI

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from fairlearn.metrics import (
    MetricFrame,
    demographic_parity_difference,
    equalized_odds_difference,
    selection_rate,
)
from matplotlib.figure import Figure
from sklearn.inspection import permutation_importance
from sklearn.metrics import (
    ConfusionMatrixDisplay,
    RocCurveDisplay,
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

from .predict import predict_probability
from .schema import DECISION_THRESHOLD, MODEL_INPUTS, TARGET


@dataclass
class Evaluation:
    """The results of evaluating one model on one labelled batch."""

    metrics: dict[str, float]
    slices: dict[str, pd.DataFrame]
    importance: pd.DataFrame
    calibration: pd.DataFrame
    y_true: np.ndarray = field(repr=False)
    probability: np.ndarray = field(repr=False)


def quality_metrics(y_true: np.ndarray, probability: np.ndarray) -> dict[str, float]:
    predicted = (probability >= DECISION_THRESHOLD).astype(int)
    return {
        "roc_auc": float(roc_auc_score(y_true, probability)),
        "average_precision": float(average_precision_score(y_true, probability)),
        "accuracy": float(accuracy_score(y_true, predicted)),
        "precision": float(precision_score(y_true, predicted, zero_division=0)),
        "recall": float(recall_score(y_true, predicted, zero_division=0)),
        "f1": float(f1_score(y_true, predicted, zero_division=0)),
        "brier": float(brier_score_loss(y_true, probability)),
        "log_loss": float(log_loss(y_true, probability, labels=[0, 1])),
    }


def _slice_roc_auc(y_true: np.ndarray, probability: np.ndarray) -> float:
    # A slice with one class has no ROC AUC; NaN says so instead of failing.
    return float(roc_auc_score(y_true, probability)) if len(np.unique(y_true)) > 1 else np.nan


def slice_metrics(
    y_true: np.ndarray, probability: np.ndarray, groups: pd.Series
) -> tuple[pd.DataFrame, dict[str, float]]:
    """Per-group quality (fairlearn MetricFrame) and the fairness gaps across groups."""
    predicted = (probability >= DECISION_THRESHOLD).astype(int)
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
    gaps = {
        "demographic_parity_difference": float(
            demographic_parity_difference(y_true, predicted, sensitive_features=groups)
        ),
        "equalized_odds_difference": float(
            equalized_odds_difference(y_true, predicted, sensitive_features=groups)
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
    pipeline: Pipeline, frame: pd.DataFrame, sensitive_features: list[str], seed: int
) -> Evaluation:
    """Evaluate a fitted pipeline on a labelled, sliced batch (see data.read_processed)."""
    y_true = frame[TARGET.name].to_numpy()
    probability = predict_probability(pipeline, frame)
    metrics = quality_metrics(y_true, probability)
    slices = {}
    for feature in sensitive_features:
        slices[feature], gaps = slice_metrics(y_true, probability, frame[feature])
        metrics.update({f"{name}_{feature}": value for name, value in gaps.items()})
    calibration = calibration_table(y_true, probability)
    metrics["expected_calibration_error"] = expected_calibration_error(calibration)
    return Evaluation(
        metrics=metrics,
        slices=slices,
        importance=importance_table(pipeline, frame, seed),
        calibration=calibration,
        y_true=y_true,
        probability=probability,
    )


def write_figures(evaluation: Evaluation, directory: Path) -> list[Path]:
    """ROC curve, confusion matrix, calibration and importance plots as PNG files."""
    directory.mkdir(parents=True, exist_ok=True)
    y_true, probability = evaluation.y_true, evaluation.probability
    paths = []

    def save(figure: Figure, name: str) -> None:
        path = directory / name
        figure.tight_layout()
        figure.savefig(path, dpi=100)
        plt.close(figure)
        paths.append(path)

    figure, axes = plt.subplots(figsize=(5, 5))
    RocCurveDisplay.from_predictions(y_true, probability, ax=axes, plot_chance_level=True)
    axes.set_title("ROC curve (held-out)")
    save(figure, "roc_curve.png")

    figure, axes = plt.subplots(figsize=(5, 5))
    ConfusionMatrixDisplay.from_predictions(
        y_true,
        (probability >= DECISION_THRESHOLD).astype(int),
        display_labels=["bad", "good"],
        ax=axes,
    )
    axes.set_title(f"Confusion matrix (threshold {DECISION_THRESHOLD})")
    save(figure, "confusion_matrix.png")

    figure, axes = plt.subplots(figsize=(5, 5))
    table = evaluation.calibration
    axes.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfectly calibrated")
    axes.plot(table["predicted"], table["observed"], marker="o", label="model")
    axes.set(xlabel="mean predicted probability", ylabel="observed frequency", title="Calibration")
    axes.legend()
    save(figure, "calibration.png")

    figure, axes = plt.subplots(figsize=(6, 4))
    importance = evaluation.importance.iloc[::-1]
    axes.barh(importance["feature"], importance["importance"], xerr=importance["std"])
    axes.set(xlabel="drop in ROC AUC when permuted", title="Permutation importance")
    save(figure, "permutation_importance.png")
    return paths
