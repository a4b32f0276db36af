"""Calibration, and what it buys: performance estimated before labels arrive.

A classifier is calibrated when, of the rows it gives probability p, a share p turns out
positive (the reliability curve: predicted against observed, by bins). Then each served row
is a known lottery, and the quality of a batch can be *expected* from the probabilities
alone: confidence-based performance estimation (CBPE, as in NannyML; NannyML itself does not
resolve with this project's pins: 0.13 requires lightgbm<4.6). Training measures the
calibration on the held-out split (expected calibration error, Brier score) and monitoring
trusts the estimate only while it is small (monitoring/estimate.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from .base import pyplot

if TYPE_CHECKING:
    from matplotlib.figure import Figure

# How far the probabilities are from calibrated, on the held-out split (the model card's),
# and on the out-of-fold predictions of every training row: what monitoring trusts its
# estimate on (the held-out split of a small data set leaves a bin too few rows to judge).
CALIBRATION_ERROR = "expected_calibration_error"
CV_CALIBRATION_ERROR = f"cv_{CALIBRATION_ERROR}"


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


def expected_calibration_error(calibration: pd.DataFrame) -> float:
    """The rows' mean gap between predicted and observed frequency (calibration_table's)."""
    weights = calibration["count"] / calibration["count"].sum()
    return float((weights * (calibration["observed"] - calibration["predicted"]).abs()).sum())


def calibration_figure(table: pd.DataFrame, predicted: str, observed: str) -> Figure:
    """The reliability curve of calibration_table's bins (each annotated with its rows),
    against the diagonal of a calibrated model; `predicted` and `observed` name the axes."""
    figure: Figure
    figure, axes = pyplot().subplots(figsize=(5, 5))
    axes.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfectly calibrated")
    axes.plot(table["predicted"], table["observed"], marker="o", label="model")
    for row in table.itertuples():
        axes.annotate(
            f"n={row.count}", (row.predicted, row.observed), textcoords="offset points",
            xytext=(4, -10), fontsize=7,
        )  # fmt: skip
    axes.set(
        xlabel=predicted,
        ylabel=observed,
        title="Calibration (held-out, quantile bins)",
        xlim=(0, 1),
        ylim=(0, 1),
    )
    axes.legend(loc="upper left")
    return figure


def expected_roc_auc(probability: np.ndarray) -> float | None:
    """The ROC AUC a batch is expected to have when each row is positive with its calibrated
    probability p: every row counts as a positive of weight p and a negative of weight 1-p,
    and a row is never paired with itself (the pairs of one row, tied, are taken out of the
    weighted AUC exactly). None when the batch is expected to hold a single class."""
    p = np.clip(np.asarray(probability, dtype=float), 0.0, 1.0)
    positives, negatives = float(p.sum()), float((1 - p).sum())
    self_pairs = float(np.sum(p * (1 - p)))
    pairs = positives * negatives - self_pairs
    if len(p) < 2 or pairs <= 0:
        return None
    weighted = roc_auc_score(
        np.r_[np.ones(len(p)), np.zeros(len(p))], np.r_[p, p], sample_weight=np.r_[p, 1 - p]
    )
    return float((weighted * positives * negatives - 0.5 * self_pairs) / pairs)
