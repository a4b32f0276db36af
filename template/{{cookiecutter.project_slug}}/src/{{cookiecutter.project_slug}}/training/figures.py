"""The evaluation's figures: the task's (tasks/: ROC curve, decisions and calibration for a
binary model; decisions for a multiclass one; predicted against actual values for a
regressor) and permutation importance, each titled and labelled, as PNG files for the model
card and the tracker."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display needed on servers and CI

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from ..tasks import TASK
from .metrics import Evaluation


def build_figures(evaluation: Evaluation) -> dict[str, Figure]:
    """The task's figures, then permutation importance."""
    figures = TASK.figures(evaluation.y_true, evaluation.output, evaluation.threshold)
    figure, axes = plt.subplots(figsize=(6, 4))
    importance = evaluation.importance.iloc[::-1]
    axes.barh(importance["feature"], importance["importance"], xerr=importance["std"])
    axes.set(
        xlabel=f"loss in held-out {TASK.primary.label} when the input is permuted",
        ylabel="model input",
        title="Permutation importance",
    )
    figures["permutation_importance"] = figure
    return figures


def write_figures(evaluation: Evaluation, directory: Path) -> list[Path]:
    """The figures of build_figures as PNG files."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, figure in build_figures(evaluation).items():
        path = directory / f"{name}.png"
        figure.tight_layout()
        figure.savefig(path, dpi=100)
        plt.close(figure)
        paths.append(path)
    return paths
