"""The evaluation's figures: ROC curve, decisions at the threshold, calibration and
permutation importance, each titled and labelled, as PNG files for the model card and the
tracker."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display needed on servers and CI

import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from sklearn.metrics import ConfusionMatrixDisplay, RocCurveDisplay

from ..data.contract import NEGATIVE_CLASS, POSITIVE_CLASS, ROWS
from .metrics import Evaluation


def build_figures(evaluation: Evaluation) -> dict[str, Figure]:
    """ROC curve, confusion matrix at the decision threshold, calibration (with the number
    of rows in each bin) and permutation importance, each titled and labelled."""
    y_true, probability = evaluation.y_true, evaluation.probability
    figures: dict[str, Figure] = {}

    figure, axes = plt.subplots(figsize=(5, 5))
    RocCurveDisplay.from_predictions(y_true, probability, ax=axes, plot_chance_level=True)
    axes.set(
        xlabel=f"false positive rate ({NEGATIVE_CLASS} {ROWS} decided {POSITIVE_CLASS})",
        ylabel=f"true positive rate ({POSITIVE_CLASS} {ROWS} decided {POSITIVE_CLASS})",
        title="ROC curve (held-out)",
    )
    figures["roc_curve"] = figure

    figure, axes = plt.subplots(figsize=(5, 5))
    ConfusionMatrixDisplay.from_predictions(
        y_true,
        (probability >= evaluation.threshold).astype(int),
        labels=[0, 1],
        display_labels=[NEGATIVE_CLASS, POSITIVE_CLASS],
        ax=axes,
        colorbar=False,
    )
    axes.set(
        xlabel="decision",
        ylabel="actual outcome",
        title=f"Decisions at threshold {evaluation.threshold:.2f} (held-out)",
    )
    figures["confusion_matrix"] = figure

    figure, axes = plt.subplots(figsize=(5, 5))
    table = evaluation.calibration
    axes.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfectly calibrated")
    axes.plot(table["predicted"], table["observed"], marker="o", label="model")
    for row in table.itertuples():
        axes.annotate(
            f"n={row.count}", (row.predicted, row.observed), textcoords="offset points",
            xytext=(4, -10), fontsize=7,
        )  # fmt: skip
    axes.set(
        xlabel=f"mean predicted probability of {POSITIVE_CLASS}",
        ylabel=f"observed share of {POSITIVE_CLASS}",
        title="Calibration (held-out, quantile bins)",
        xlim=(0, 1),
        ylim=(0, 1),
    )
    axes.legend(loc="upper left")
    figures["calibration"] = figure

    figure, axes = plt.subplots(figsize=(6, 4))
    importance = evaluation.importance.iloc[::-1]
    axes.barh(importance["feature"], importance["importance"], xerr=importance["std"])
    axes.set(
        xlabel="drop in held-out ROC AUC when the input is permuted",
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
