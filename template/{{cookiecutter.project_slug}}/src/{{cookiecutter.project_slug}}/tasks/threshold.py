"""Decisions that weigh what mistakes cost.

The model scores P(positive class). Deciding the positive class for a negative row may cost
more (or less) than the opposite mistake (contract.yaml `costs`), so the decision threshold
is not 0.5: it is chosen on the training data, by cross-validation, to minimise the expected
cost per row. The threshold ships inside the model (sklearn's FixedThresholdClassifier), so
a model version and its threshold are always served, rolled back and audited together.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.metrics import confusion_matrix

from ..data.contract import COSTS, NEGATIVE_CLASS, POSITIVE_CLASS, Costs

# Thresholds searched: a grid fine enough for a thousand rows, coarse enough to stay stable.
THRESHOLDS = np.round(np.arange(0.05, 0.96, 0.01), 2)


def decide(probability: np.ndarray, threshold: float) -> np.ndarray:
    """The decision for each probability of the positive class: the positive class from the
    threshold on, else the negative class."""
    return np.where(np.asarray(probability) >= threshold, POSITIVE_CLASS, NEGATIVE_CLASS)


def expected_cost(y_true: np.ndarray, predicted: np.ndarray, costs: Costs = COSTS) -> float:
    """Mean cost per row of the decisions `predicted` (1 = the positive class)."""
    y_true, predicted = np.asarray(y_true), np.asarray(predicted)
    false_positives = np.sum((predicted == 1) & (y_true == 0))
    false_negatives = np.sum((predicted == 0) & (y_true == 1))
    total = costs.false_positive * false_positives + costs.false_negative * false_negatives
    return float(total / len(y_true))


def confusion(y_true: np.ndarray, predicted: np.ndarray) -> dict[str, int]:
    """The confusion matrix of the decisions, in the same keys for every contract (the
    positive class is the contract's `target.positive`)."""
    (true_negatives, false_positives), (false_negatives, true_positives) = confusion_matrix(
        y_true, predicted, labels=[0, 1]
    )
    return {
        "true_negatives": int(true_negatives),
        "false_positives": int(false_positives),
        "false_negatives": int(false_negatives),
        "true_positives": int(true_positives),
    }


@dataclass(frozen=True)
class ThresholdChoice:
    """The cost-minimising threshold and its expected cost across the CV folds."""

    threshold: float
    cost_mean: float
    cost_std: float


def choose_threshold(
    y_true: np.ndarray, probability: np.ndarray, folds: list[np.ndarray], costs: Costs = COSTS
) -> ThresholdChoice:
    """The threshold minimising the mean expected cost over the folds' out-of-fold
    predictions (`folds` holds each fold's row indices)."""
    y_true, probability = np.asarray(y_true), np.asarray(probability)
    per_fold = np.array(
        [
            [
                expected_cost(y_true[rows], (probability[rows] >= t).astype(int), costs)
                for t in THRESHOLDS
            ]
            for rows in folds
        ]
    )
    best = int(np.argmin(per_fold.mean(axis=0)))
    return ThresholdChoice(
        threshold=float(THRESHOLDS[best]),
        cost_mean=float(per_fold[:, best].mean()),
        cost_std=float(per_fold[:, best].std()),
    )
