"""The interface every task (binary, multiclass, regression) implements: what the model
outputs, how it is scored (the primary metric and its direction), the baseline it must
beat, how it decides, how fair it is, how live quality is measured and what the figures
show. The stages (training, the gate, serving, monitoring) use a Task, never a task's name."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.model_selection import BaseCrossValidator

if TYPE_CHECKING:  # matplotlib is imported only to draw (the API never imports it)
    from matplotlib.figure import Figure

FloatArray = np.ndarray[Any, np.dtype[np.float64]]


def pyplot() -> Any:
    """matplotlib's pyplot, drawing to files (no display needed on servers and CI); imported
    when a figure is drawn, so serving never loads it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


@dataclass(frozen=True)
class Metric:
    """A metric's key in metrics.json, its name in messages and which way is better."""

    key: str
    label: str
    higher_is_better: bool

    def better(self, value: float, than: float) -> bool:
        """Whether `value` is strictly better than `than`."""
        return value > than if self.higher_is_better else value < than

    def drop(self, reference: float, value: float) -> float:
        """How much worse `value` is than `reference` (negative: better); relative to the
        reference for a lower-is-better metric, whose scale is the target's unit."""
        if self.higher_is_better:
            return reference - value
        return (value - reference) / reference if reference else value - reference


@dataclass(frozen=True)
class Judged:
    """Per-group quality of one attribute and its gaps (fairness metric -> gap)."""

    by_group: pd.DataFrame
    gaps: Mapping[str, float]


class Task(ABC):
    """One task's choices; tasks/__init__.py picks the contract's."""

    name: Literal["binary", "multiclass", "regression"]
    kind: Literal["classifier", "regressor"]
    primary: Metric  # what tuning maximises (or minimises) and the gate compares
    floor: Metric  # what the gate's absolute floor bounds (gate.min_roc_auc / gate.min_r2)
    fairness_metric: str  # the gap the gate bounds per fairness attribute
    fairness_label: str
    live: Metric  # measured on labelled live rows (monitoring)
    baseline_name: str  # what the baseline predicts, in the model card
    # Whether the served value is a probability, from which quality can be estimated before
    # labels arrive (estimated_quality); a regressor's predicted value is not.
    served_confidence: bool = False

    @abstractmethod
    def splitter(self, folds: int, seed: int) -> BaseCrossValidator:
        """The cross-validation folds (stratified for a classifier)."""

    @abstractmethod
    def baseline(self) -> Any:
        """The Dummy model the gate compares with."""

    @abstractmethod
    def output(self, pipeline: Any, frame: pd.DataFrame) -> FloatArray:
        """What the fitted model says of each row: P(positive) (binary), one probability
        per class (multiclass, n x k) or the predicted value (regression)."""

    @abstractmethod
    def decide(self, output: FloatArray, threshold: float | None) -> np.ndarray:
        """Each row's decision as a label (classification) or the value itself."""

    def with_threshold(self, estimator: Any, threshold: float | None) -> Any:
        """The model's last step: the estimator, with its decision threshold where the task
        has one (binary), so a model version and its policy ship together."""
        del threshold
        return estimator

    def fit_model(self, model: Any, fit: Callable[[Any], Any]) -> Any:
        """The pipeline's last step, fitted: `fit` fits a fresh estimator on the training
        matrix (a compute engine's fit), here the step itself."""
        return fit(clone(model))

    def threshold_of(self, model: Any) -> float | None:
        """The decision threshold a trained pipeline carries (None: the task has none)."""
        del model
        return None

    def choose_threshold(
        self, y_true: np.ndarray, output: FloatArray, folds: list[np.ndarray]
    ) -> tuple[float | None, dict[str, float]]:
        """The decision threshold chosen on out-of-fold outputs (binary only: None for the
        others, whose decision needs none) and the cross-validated figures of the policy."""
        del y_true, output, folds
        return None, {}

    @abstractmethod
    def primary_value(self, y_true: np.ndarray, output: FloatArray) -> float:
        """The primary metric of `output` (what tuning and cross-validation report)."""

    @abstractmethod
    def metrics(
        self, y_true: np.ndarray, output: FloatArray, threshold: float | None
    ) -> dict[str, float]:
        """Held-out quality, the primary metric among them."""

    @abstractmethod
    def judge_groups(
        self,
        y_true: np.ndarray,
        output: FloatArray,
        threshold: float | None,
        groups: pd.Series,
        min_group_size: int,
    ) -> Judged:
        """Per-group quality and the fairness gaps over groups of at least min_group_size."""

    @abstractmethod
    def served_value(self, output: FloatArray) -> FloatArray:
        """One number per row, logged with each prediction and watched for drift: P(positive),
        the probability of the decided class, or the predicted value."""

    @abstractmethod
    def live_quality(
        self, labels: np.ndarray, served: FloatArray, decided: np.ndarray
    ) -> float | None:
        """`live` on labelled rows from what was served (None: they cannot measure it)."""

    @abstractmethod
    def figures(
        self, y_true: np.ndarray, output: FloatArray, threshold: float | None
    ) -> dict[str, Figure]:
        """The evaluation's task figures (held-out), each titled and labelled."""

    def estimated_quality(self, served: FloatArray, decided: np.ndarray) -> float | None:
        """`live` expected from what was served alone, before any label arrives
        (confidence-based performance estimation, tasks/calibration.py: sound while the
        served probabilities are calibrated). None: the output carries no confidence to
        estimate from (a regressor's predicted value)."""
        del served, decided
        return None

    def estimated_cost(self, served: FloatArray, decided: np.ndarray) -> float | None:
        """The decisions' expected cost per row from what was served alone (None: the
        task cannot tell it from the logged values)."""
        del served, decided
        return None
