"""Multiclass: the model gives one probability per class; the decision is the class of
least expected cost. A wrong decision about a row of class i costs contract.yaml's
`costs[i]`, so deciding j costs sum_i p_i c_i - p_j c_j and the decision is the argmax of
p_j c_j (equal costs: the most probable class). Gated on macro ROC AUC one-vs-rest (ranking
quality of every class, whatever the costs, on the scale of the binary floor); fairness is
the largest gap between groups in the rate of deciding any one class; live quality is the
accuracy of the logged decisions."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, f1_score, log_loss, roc_auc_score

from ..data.contract import CONTRACT, MODEL_INPUTS, ROWS
from .base import FloatArray, Judged, Metric, Task, pyplot
from .calibration import (
    CALIBRATION_ERROR,
    CV_CALIBRATION_ERROR,
    calibration_figure,
    calibration_table,
    expected_calibration_error,
)
from .classification import (
    class_prior,
    decisions_figure,
    group_frame,
    judged_rows,
    selection_gap,
    stratified,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure

ROC_AUC = Metric("roc_auc", "macro ROC AUC (one-vs-rest)", higher_is_better=True)
ACCURACY = Metric("accuracy", "accuracy", higher_is_better=True)
NAMES = list(CONTRACT.class_names)
# Label i's cost of a wrong decision, in label order.
COSTS = np.array([CONTRACT.class_costs[name] for name in NAMES], dtype=float)


def least_cost(probabilities: FloatArray, costs: np.ndarray = COSTS) -> np.ndarray:
    """The label of least expected cost for each row of class probabilities."""
    return np.asarray(np.argmax(probabilities * costs, axis=1), dtype=int)


def expected_cost(y_true: np.ndarray, decided: np.ndarray, costs: np.ndarray = COSTS) -> float:
    """Mean cost per row of the decisions (a wrong one costs its row's class cost)."""
    y_true = np.asarray(y_true, dtype=int)
    return float(np.mean(np.where(decided != y_true, costs[y_true], 0.0)))


def decided_probability(probabilities: FloatArray) -> FloatArray:
    """Each row's probability of the class decided for it (least_cost's): the chance the
    decision is right, what a calibrated model's expected accuracy averages."""
    decided = least_cost(probabilities)
    return np.asarray(probabilities[np.arange(len(decided)), decided], dtype=float)


def top_label_calibration_error(y_true: np.ndarray, probabilities: FloatArray) -> float:
    """The calibration error of the decided class's probability against being right."""
    right = (least_cost(probabilities) == np.asarray(y_true)).astype(float)
    return expected_calibration_error(calibration_table(right, decided_probability(probabilities)))


def _roc_auc(y_true: np.ndarray, probabilities: FloatArray) -> float:
    labels = list(range(len(NAMES)))
    return float(roc_auc_score(y_true, probabilities, multi_class="ovr", average="macro",
                               labels=labels))  # fmt: skip


class Multiclass(Task):
    name = "multiclass"
    kind = "classifier"
    primary = floor = ROC_AUC
    live = ACCURACY
    fairness_metric = "demographic_parity_difference"
    fairness_label = "demographic parity difference (largest gap in any class's decision rate)"
    baseline_name = "class prior"
    served_confidence = True

    def splitter(self, folds: int, seed: int) -> Any:
        return stratified(folds, seed)

    def baseline(self) -> Any:
        return class_prior()

    def output(self, pipeline: Any, frame: pd.DataFrame) -> FloatArray:
        return np.asarray(pipeline.predict_proba(frame[list(MODEL_INPUTS)]), dtype=float)

    def decide(self, output: FloatArray, threshold: float | None) -> np.ndarray:
        return least_cost(output)

    def choose_threshold(
        self, y_true: np.ndarray, output: FloatArray, folds: list[np.ndarray]
    ) -> tuple[float | None, dict[str, float]]:
        costs = [expected_cost(y_true[rows], least_cost(output[rows])) for rows in folds]
        right = [accuracy_score(y_true[rows], least_cost(output[rows])) for rows in folds]
        return None, {
            "cv_expected_cost_mean": float(np.mean(costs)),
            "cv_expected_cost_std": float(np.std(costs)),
            "cv_accuracy_mean": float(np.mean(right)),  # what live accuracy is held to
            CV_CALIBRATION_ERROR: top_label_calibration_error(y_true, output),
        }

    def primary_value(self, y_true: np.ndarray, output: FloatArray) -> float:
        return _roc_auc(y_true, output)

    def metrics(
        self, y_true: np.ndarray, output: FloatArray, threshold: float | None
    ) -> dict[str, float]:
        decided = least_cost(output)
        # A float32 model's probabilities (XGBoost's) sum to one within 1e-7, not within the
        # 1e-8 log_loss checks: it is given them rescaled to sum to one exactly.
        summed = output / output.sum(axis=1, keepdims=True)
        truth = np.eye(len(NAMES))[np.asarray(y_true, dtype=int)]
        return {
            "roc_auc": _roc_auc(y_true, output),
            "log_loss": float(log_loss(y_true, summed, labels=list(range(len(NAMES))))),
            "accuracy": float(accuracy_score(y_true, decided)),
            "macro_f1": float(f1_score(y_true, decided, average="macro", zero_division=0)),
            "expected_cost": expected_cost(y_true, decided),
            # Calibration (CBPE's premise): the multiclass Brier score, and the top-label
            # calibration error of the decided class's probability against being right.
            "brier": float(np.mean(np.sum((summed - truth) ** 2, axis=1))),
            CALIBRATION_ERROR: top_label_calibration_error(y_true, output),
        }

    def judge_groups(
        self,
        y_true: np.ndarray,
        output: FloatArray,
        threshold: float | None,
        groups: pd.Series,
        min_group_size: int,
    ) -> Judged:
        decided = least_cost(output)
        by_group = group_frame(y_true, decided, groups, {})
        for label, name in enumerate(NAMES):
            by_group[f"rate_{name}"] = pd.Series(decided == label).groupby(groups.to_numpy()).mean()
        judged = judged_rows(groups, by_group, min_group_size)
        gap = selection_gap(decided[judged], groups[judged], list(range(len(NAMES))))
        return Judged(by_group, {self.fairness_metric: gap})

    def served_value(self, output: FloatArray) -> FloatArray:
        return decided_probability(output)  # the decided class's confidence

    def live_quality(
        self, labels: np.ndarray, served: FloatArray, decided: np.ndarray
    ) -> float | None:
        return float(accuracy_score(labels, decided)) if len(labels) else None

    def estimated_quality(self, served: FloatArray, decided: np.ndarray) -> float | None:
        # Each decision is right with the probability served for it: expected accuracy.
        return float(np.mean(served)) if len(served) else None

    def estimated_cost(self, served: FloatArray, decided: np.ndarray) -> float | None:
        # A wrong decision costs its row's class cost, unknown from the decided class's
        # probability alone unless every class costs the same.
        if not len(served) or len(set(COSTS)) != 1:
            return None
        return float(COSTS[0] * np.mean(1 - served))

    def figures(
        self, y_true: np.ndarray, output: FloatArray, threshold: float | None
    ) -> dict[str, Figure]:
        """The decisions' confusion matrix, the confidence of correct and wrong ones, and
        its calibration (the decided class's probability against the share of decisions
        right)."""
        decided = least_cost(output)
        figure, axes = pyplot().subplots(figsize=(5, 4))
        confidence = decided_probability(output)
        for right, label in ((True, "right"), (False, "wrong")):
            axes.hist(confidence[(decided == y_true) == right], bins=10, range=(0, 1),
                      alpha=0.6, label=f"{label} decisions")  # fmt: skip
        axes.set(
            xlabel="probability of the decided class",
            ylabel=ROWS,
            title=f"Confidence of the decisions (held-out {ROWS})",
        )
        axes.legend(loc="upper left")
        return {
            "confusion_matrix": decisions_figure(y_true, decided, NAMES, "Decisions"),
            "confidence": figure,
            "calibration": calibration_figure(
                calibration_table((decided == y_true).astype(float), confidence),
                "mean probability of the decided class",
                "share of the decisions that were right",
            ),
        }
