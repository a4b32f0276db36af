"""ML Test Score Infrastructure 5: the model is debuggable: every candidate's model card
reports its decisions' cost, its confusion matrix, its cross-validation spread and every
sensitive slice (breaches flagged), with labelled figures."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import pytest

from {{ cookiecutter.project_slug }}.config import Settings
from {{ cookiecutter.project_slug }}.data.contract import (
    CONTRACT,
    NEGATIVE_CLASS,
    POSITIVE_CLASS,
    SENSITIVE_ATTRIBUTES,
)
from {{ cookiecutter.project_slug }}.registry.gate import FAIRNESS_NOT_ASSESSED
from {{ cookiecutter.project_slug }}.registry.model_store import ModelMetadata
from {{ cookiecutter.project_slug }}.tasks import TASK
from {{ cookiecutter.project_slug }}.tasks.calibration import (
    CALIBRATION_ERROR,
    CV_CALIBRATION_ERROR,
    calibration_table,
)
from {{ cookiecutter.project_slug }}.training import model_card
from {{ cookiecutter.project_slug }}.training.figures import build_figures
from {{ cookiecutter.project_slug }}.training.metrics import Evaluation, evaluate
from {{ cookiecutter.project_slug }}.training.train import TrainedModel

from ..contract_cases import NO_FAIRNESS, TASK_FIGURES, cases, for_tasks

pytestmark = pytest.mark.infrastructure

SENSITIVE = SENSITIVE_ATTRIBUTES  # the contract's fairness attributes


@pytest.fixture(scope="module")
def evaluation(
    trained: TrainedModel, holdout_frame: pd.DataFrame, settings: Settings
) -> Evaluation:
    return evaluate(trained.pipeline, holdout_frame, list(SENSITIVE), settings.seed)


def card(trained: TrainedModel, evaluation: Evaluation, settings: Settings) -> str:
    metadata = ModelMetadata(
        name="m", version="3", run_id="r", model_type=trained.model_name,
        metrics=trained.cv_metrics(),
    )  # fmt: skip
    baseline = {"expected_cost": 0.7}
    text = model_card.render(metadata, evaluation, baseline, [], Path("."), settings)
    return " ".join(text.split())  # line breaks of the markdown source do not matter


def test_figures_are_labelled(evaluation: Evaluation) -> None:
    """Infrastructure 5: the task's figures are drawn, each with a title and labelled axes."""
    figures = build_figures(evaluation)
    try:
        assert set(figures) == TASK_FIGURES[TASK.name] | {"permutation_importance"}
        for name, figure in figures.items():
            axes = figure.axes[0]
            assert axes.get_title(), name
            assert axes.get_xlabel(), name
            assert axes.get_ylabel(), name
    finally:
        for figure in figures.values():
            plt.close(figure)


@pytest.mark.skipif(
    TASK.name != "binary",
    reason=f"{CONTRACT.path} declares task {TASK.name}: the bins are counted on a binary "
    "model's probability and its confusion matrix at the threshold",
)
def test_figures_calibration_plot_counts_its_bins(
    evaluation: Evaluation, holdout_frame: pd.DataFrame
) -> None:
    """Infrastructure 5: each calibration bin is annotated with its number of rows; the
    confusion matrix is at the threshold."""
    figures = build_figures(evaluation)
    try:
        counts = [
            int(text.get_text().removeprefix("n="))
            for text in figures["calibration"].axes[0].texts
            if text.get_text().startswith("n=")
        ]
        assert len(counts) == len(calibration_table(evaluation.y_true, evaluation.output))
        assert sum(counts) == len(holdout_frame)
        assert f"{evaluation.threshold:.2f}" in figures["confusion_matrix"].axes[0].get_title()
    finally:
        for figure in figures.values():
            plt.close(figure)


@for_tasks("binary", "multiclass", why="a regressor's output has no probability to calibrate")
def test_model_card_reports_the_calibration_the_estimate_before_labels_rests_on(
    trained: TrainedModel, evaluation: Evaluation, settings: Settings
) -> None:
    """Infrastructure 5 / Monitoring 7: training measures calibration (Brier score and the
    expected calibration error, held-out and out of fold) and the card reports it: the
    premise of the quality monitoring estimates before labels arrive."""
    text = card(trained, evaluation, settings)
    m, cv = evaluation.metrics, trained.cv_metrics()
    assert 0 <= m["brier"] <= 1
    assert f"| brier | {m['brier']:.3f} |" in text
    assert f"| {CALIBRATION_ERROR} | {m[CALIBRATION_ERROR]:.3f} |" in text
    assert 0 <= cv[CV_CALIBRATION_ERROR] <= 1
    assert f"expected calibration error {cv[CV_CALIBRATION_ERROR]:.3f} out of fold" in text


@for_tasks("binary", why="only a binary model decides at a threshold")
def test_model_card_reports_cost_and_confusion_at_the_threshold(
    trained: TrainedModel, evaluation: Evaluation, settings: Settings
) -> None:
    """Infrastructure 5: the card states the expected cost (against the 0.5 threshold and
    the baseline), the confusion matrix at the chosen threshold and the cost's CV spread."""
    text = card(trained, evaluation, settings)
    m = evaluation.metrics
    assert f"**{m['expected_cost']:.3f}** at the chosen threshold" in text
    assert f"{m['expected_cost_at_half']:.3f} at 0.5" in text
    negatives = f"| {NEGATIVE_CLASS} | {int(m['true_negatives'])} | {int(m['false_positives'])} |"
    positives = f"| {POSITIVE_CLASS} | {int(m['false_negatives'])} | {int(m['true_positives'])} |"
    assert negatives in text
    assert positives in text
    cost = trained.cv_policy
    assert f"{cost['cv_expected_cost_mean']:.3f} ± {cost['cv_expected_cost_std']:.3f}" in text


def test_model_card_reports_spread_and_every_slice(
    trained: TrainedModel, evaluation: Evaluation, settings: Settings
) -> None:
    """Infrastructure 5: the card states the primary metric's CV spread and has a section
    per sensitive attribute (or says fairness was not assessed)."""
    text = card(trained, evaluation, settings)
    assert f"{TASK.primary.label} {trained.cv_mean:.3f} ± {trained.cv_std:.3f}" in text
    for feature in SENSITIVE:
        assert f"### By `{feature}`" in text
    assert "BREACH" not in text
    assert (FAIRNESS_NOT_ASSESSED in text.lower()) is not bool(SENSITIVE)


@pytest.mark.parametrize("attribute", cases(SENSITIVE, NO_FAIRNESS))
def test_model_card_flags_a_fairness_breach(
    attribute: str, trained: TrainedModel, evaluation: Evaluation, settings: Settings
) -> None:
    """Model 7 / Infrastructure 5: a slice whose gap exceeds its bound is flagged in its
    own section of the card, and only there."""
    bounds = {**settings.gate.max_demographic_parity_difference, attribute: 0.0}
    strict = settings.model_copy(
        update={
            "gate": settings.gate.model_copy(update={"max_demographic_parity_difference": bounds})
        }
    )
    text = card(trained, evaluation, strict)
    section = text.split(f"### By `{attribute}`")[1].split("## ")[0]
    assert "**BREACH**: exceeds the bound 0.000" in section
    for other in SENSITIVE:
        if other != attribute:
            assert "BREACH" not in text.split(f"### By `{other}`")[1].split("###")[0]
