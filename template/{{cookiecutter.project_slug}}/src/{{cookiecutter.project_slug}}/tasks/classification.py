"""What binary and multiclass share: stratified folds, a class-prior baseline, per-group
quality with the gap in each decision's selection rate, and the decisions' confusion
matrix."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from sklearn.dummy import DummyClassifier
from sklearn.metrics import ConfusionMatrixDisplay, accuracy_score
from sklearn.model_selection import StratifiedKFold

from ..data.contract import ROWS
from .base import pyplot

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def stratified(folds: int, seed: int) -> StratifiedKFold:
    return StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)


def class_prior() -> DummyClassifier:
    """The simplest honest classifier: always predict the class prior."""
    return DummyClassifier()


def judged_rows(groups: pd.Series, by_group: pd.DataFrame, min_group_size: int) -> np.ndarray:
    """The rows of groups of at least min_group_size (smaller ones are too noisy to judge)."""
    return groups.isin(by_group.index[by_group["count"] >= min_group_size]).to_numpy()


def selection_gap(decided: np.ndarray, groups: pd.Series, labels: list[int]) -> float:
    """The largest gap, over the decisions `labels`, between the groups' rates of deciding
    it (demographic parity difference; for two classes, the positive decision's gap)."""
    if len(decided) == 0:
        return float("nan")
    rates = (
        pd.DataFrame({label: decided == label for label in labels})
        .groupby(groups.to_numpy())
        .mean()
    )
    return float((rates.max() - rates.min()).max())


def group_frame(
    y_true: np.ndarray,
    decided: np.ndarray,
    groups: pd.Series,
    extra: dict[str, Callable[[np.ndarray, np.ndarray], float]],
) -> pd.DataFrame:
    """Per-group accuracy (and `extra` metrics of the decisions) with the group's size."""
    from fairlearn.metrics import MetricFrame  # an evaluation library: serving never loads it

    frame = MetricFrame(
        metrics={"accuracy": accuracy_score, **extra},
        y_true=y_true,
        y_pred=decided,
        sensitive_features=groups,
    )
    by_group: pd.DataFrame = frame.by_group
    return by_group.assign(count=groups.value_counts().reindex(by_group.index))


def decisions_figure(
    y_true: np.ndarray, decided: np.ndarray, names: list[str], title: str
) -> Figure:
    figure: Figure
    figure, axes = pyplot().subplots(figsize=(5, 5))
    ConfusionMatrixDisplay.from_predictions(
        y_true,
        decided,
        labels=list(range(len(names))),
        display_labels=names,
        ax=axes,
        colorbar=False,
    )
    axes.set(xlabel="decision", ylabel="actual outcome", title=f"{title} (held-out {ROWS})")
    return figure
