"""Regression: the model predicts the value itself and decides nothing. Gated on RMSE
(lower is better; the error in the target's unit, large misses weigh most) against a
mean-predicting baseline, with R² as the absolute floor (gate.min_r2: how much of the
variance the model explains, whatever the unit); fairness is the gap in mean absolute error
between groups, relative to the overall one; live quality is RMSE on labelled logged rows."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sklearn.dummy import DummyRegressor
from sklearn.metrics import mean_absolute_error, r2_score, root_mean_squared_error
from sklearn.model_selection import KFold

from ..data.contract import MODEL_INPUTS, ROWS, TARGET
from .base import FloatArray, Judged, Metric, Task, pyplot

if TYPE_CHECKING:
    from matplotlib.figure import Figure

RMSE = Metric("rmse", "RMSE", higher_is_better=False)
R2 = Metric("r2", "R²", higher_is_better=True)


def error_gap(y_true: np.ndarray, predicted: np.ndarray, groups: pd.Series) -> float:
    """The largest gap in mean absolute error between the groups, as a share of the overall
    mean absolute error (comparable across targets, like a rate gap); NaN without rows."""
    if len(y_true) == 0:
        return float("nan")
    errors = pd.Series(np.abs(y_true - predicted)).groupby(groups.to_numpy()).mean()
    overall = float(np.mean(np.abs(y_true - predicted)))
    return float((errors.max() - errors.min()) / overall) if overall else 0.0


class Regression(Task):
    name = "regression"
    kind = "regressor"
    primary = live = RMSE
    floor = R2
    fairness_metric = "relative_error_difference"
    fairness_label = "relative error difference (gap in mean absolute error / overall)"
    baseline_name = "training mean"

    def splitter(self, folds: int, seed: int) -> Any:
        return KFold(n_splits=folds, shuffle=True, random_state=seed)

    def baseline(self) -> Any:
        return DummyRegressor(strategy="mean")

    def output(self, pipeline: Any, frame: pd.DataFrame) -> FloatArray:
        return np.asarray(pipeline.predict(frame[list(MODEL_INPUTS)]), dtype=float)

    def decide(self, output: FloatArray, threshold: float | None) -> np.ndarray:
        return output  # the prediction is the answer: no decision policy

    def primary_value(self, y_true: np.ndarray, output: FloatArray) -> float:
        return float(root_mean_squared_error(y_true, output))

    def metrics(
        self, y_true: np.ndarray, output: FloatArray, threshold: float | None
    ) -> dict[str, float]:
        return {
            "rmse": float(root_mean_squared_error(y_true, output)),
            "mae": float(mean_absolute_error(y_true, output)),
            "r2": float(r2_score(y_true, output)),
            "mean_error": float(np.mean(output - y_true)),  # bias: above 0 over-predicts
        }

    def judge_groups(
        self,
        y_true: np.ndarray,
        output: FloatArray,
        threshold: float | None,
        groups: pd.Series,
        min_group_size: int,
    ) -> Judged:
        frame = pd.DataFrame({"group": groups.to_numpy(), "error": output - y_true})
        by_group = frame.groupby("group").agg(
            mae=("error", lambda e: float(np.mean(np.abs(e)))),
            rmse=("error", lambda e: float(np.sqrt(np.mean(np.square(e))))),
            mean_error=("error", "mean"),
            count=("error", "size"),
        )
        judged = groups.isin(by_group.index[by_group["count"] >= min_group_size]).to_numpy()
        gap = error_gap(y_true[judged], output[judged], groups[judged])
        return Judged(by_group, {self.fairness_metric: gap})

    def served_value(self, output: FloatArray) -> FloatArray:
        return output

    def live_quality(
        self, labels: np.ndarray, served: FloatArray, decided: np.ndarray
    ) -> float | None:
        return float(root_mean_squared_error(labels, served)) if len(labels) else None

    def figures(
        self, y_true: np.ndarray, output: FloatArray, threshold: float | None
    ) -> dict[str, Figure]:
        """Predicted against actual values, and the residuals against the prediction."""
        plt = pyplot()
        plt = pyplot()
        figure, axes = plt.subplots(figsize=(5, 5))
        low, high = float(min(y_true.min(), output.min())), float(max(y_true.max(), output.max()))
        axes.plot([low, high], [low, high], linestyle="--", color="grey", label="perfect")
        axes.scatter(y_true, output, s=12, alpha=0.7, label=ROWS)
        axes.set(
            xlabel=f"actual {TARGET.name}",
            ylabel=f"predicted {TARGET.name}",
            title=f"Predicted vs actual (held-out {ROWS})",
        )
        axes.legend(loc="upper left")
        residuals, res_axes = plt.subplots(figsize=(5, 4))
        res_axes.axhline(0, linestyle="--", color="grey")
        res_axes.scatter(output, y_true - output, s=12, alpha=0.7)
        res_axes.set(
            xlabel=f"predicted {TARGET.name}",
            ylabel="residual (actual - predicted)",
            title=f"Residuals (held-out {ROWS})",
        )
        return {"predicted_vs_actual": figure, "residuals": residuals}
