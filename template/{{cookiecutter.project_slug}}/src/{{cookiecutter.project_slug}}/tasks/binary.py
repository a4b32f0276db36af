"""Binary: the model scores P(positive class); the decision is the positive class from a
cost-minimising threshold on (threshold.py), which ships inside the model. Gated on ROC AUC
(ranking quality, whatever the threshold); fairness is the gap in positive-decision
(approval) rates between groups; live quality is ROC AUC on labelled logged rows."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.metrics import (
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
from sklearn.model_selection import FixedThresholdClassifier

from ..data.contract import COSTS, MODEL_INPUTS, NEGATIVE_CLASS, POSITIVE_CLASS, ROWS, Costs
from .base import FloatArray, Judged, Metric, Task, pyplot
from .calibration import (
    CALIBRATION_ERROR,
    CV_CALIBRATION_ERROR,
    calibration_figure,
    calibration_table,
    expected_calibration_error,
    expected_roc_auc,
)
from .classification import class_prior, decisions_figure, judged_rows, stratified
from .threshold import choose_threshold, confusion, expected_cost

if TYPE_CHECKING:
    from matplotlib.figure import Figure

ROC_AUC = Metric("roc_auc", "ROC AUC", higher_is_better=True)


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
    min_group_size: int = 20,
) -> tuple[pd.DataFrame, dict[str, float]]:
    """Per-group quality (fairlearn MetricFrame) and the fairness gaps across the groups
    of at least `min_group_size` rows (smaller ones are reported, too noisy to judge)."""
    from fairlearn.metrics import (  # an evaluation library: serving never loads it
        MetricFrame,
        demographic_parity_difference,
        equalized_odds_difference,
        selection_rate,
    )

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
    judged = judged_rows(groups, by_group, min_group_size)
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


class Binary(Task):
    name = "binary"
    kind = "classifier"
    primary = floor = live = ROC_AUC
    fairness_metric = "demographic_parity_difference"
    fairness_label = f"demographic parity difference (gap in {POSITIVE_CLASS} rates)"
    baseline_name = "class prior"
    served_confidence = True

    def splitter(self, folds: int, seed: int) -> Any:
        return stratified(folds, seed)

    def baseline(self) -> Any:
        return class_prior()

    def output(self, pipeline: Any, frame: pd.DataFrame) -> FloatArray:
        return np.asarray(pipeline.predict_proba(frame[list(MODEL_INPUTS)])[:, 1], dtype=float)

    def decide(self, output: FloatArray, threshold: float | None) -> np.ndarray:
        return (output >= (0.5 if threshold is None else threshold)).astype(int)

    def with_threshold(self, estimator: Any, threshold: float | None) -> Any:
        return FixedThresholdClassifier(
            estimator, threshold=0.5 if threshold is None else threshold
        )

    def fit_model(self, model: Any, fit: Callable[[Any], Any]) -> Any:
        # What FixedThresholdClassifier.fit does: its estimator_, a fitted clone of its
        # estimator (the engine fits the estimator; the threshold is not fitted).
        model.estimator_ = fit(clone(model.estimator))
        return model

    def threshold_of(self, model: Any) -> float | None:
        return float(model[-1].threshold)

    def choose_threshold(
        self, y_true: np.ndarray, output: FloatArray, folds: list[np.ndarray]
    ) -> tuple[float | None, dict[str, float]]:
        choice = choose_threshold(y_true, output, folds, COSTS)
        return choice.threshold, {
            "cv_expected_cost_mean": choice.cost_mean,
            "cv_expected_cost_std": choice.cost_std,
            CV_CALIBRATION_ERROR: expected_calibration_error(calibration_table(y_true, output)),
        }

    def primary_value(self, y_true: np.ndarray, output: FloatArray) -> float:
        return float(roc_auc_score(y_true, output))

    def metrics(
        self, y_true: np.ndarray, output: FloatArray, threshold: float | None
    ) -> dict[str, float]:
        metrics = quality_metrics(y_true, output, 0.5 if threshold is None else threshold)
        calibration = calibration_table(y_true, output)
        return metrics | {CALIBRATION_ERROR: expected_calibration_error(calibration)}

    def judge_groups(
        self,
        y_true: np.ndarray,
        output: FloatArray,
        threshold: float | None,
        groups: pd.Series,
        min_group_size: int,
    ) -> Judged:
        by_group, gaps = slice_metrics(
            y_true, output, groups, 0.5 if threshold is None else threshold, min_group_size
        )
        return Judged(by_group, gaps)

    def served_value(self, output: FloatArray) -> FloatArray:
        return output

    def live_quality(
        self, labels: np.ndarray, served: FloatArray, decided: np.ndarray
    ) -> float | None:
        if len(np.unique(labels)) != 2:
            return None
        return float(roc_auc_score(labels, served))

    def estimated_quality(self, served: FloatArray, decided: np.ndarray) -> float | None:
        return expected_roc_auc(served)

    def estimated_cost(self, served: FloatArray, decided: np.ndarray) -> float | None:
        # A row decided positive is a false positive with probability 1-p, one decided
        # negative a false negative with probability p.
        if not len(served):
            return None
        positive = np.asarray(decided) == 1
        false_positives = float(np.sum(1 - served[positive]))
        false_negatives = float(np.sum(served[~positive]))
        total = COSTS.false_positive * false_positives + COSTS.false_negative * false_negatives
        return total / len(served)

    def figures(
        self, y_true: np.ndarray, output: FloatArray, threshold: float | None
    ) -> dict[str, Figure]:
        """ROC curve, confusion matrix at the decision threshold and calibration (with the
        number of rows in each bin)."""
        threshold = 0.5 if threshold is None else threshold
        figure, axes = pyplot().subplots(figsize=(5, 5))
        RocCurveDisplay.from_predictions(y_true, output, ax=axes, plot_chance_level=True)
        axes.set(
            xlabel=f"false positive rate ({NEGATIVE_CLASS} {ROWS} decided {POSITIVE_CLASS})",
            ylabel=f"true positive rate ({POSITIVE_CLASS} {ROWS} decided {POSITIVE_CLASS})",
            title="ROC curve (held-out)",
        )
        decided = self.decide(output, threshold)
        return {
            "roc_curve": figure,
            "confusion_matrix": decisions_figure(
                y_true, decided, [NEGATIVE_CLASS, POSITIVE_CLASS],
                f"Decisions at threshold {threshold:.2f}",
            ),
            "calibration": calibration_figure(
                calibration_table(y_true, output),
                f"mean predicted probability of {POSITIVE_CLASS}",
                f"observed share of {POSITIVE_CLASS}",
            ),
        }  # fmt: skip
