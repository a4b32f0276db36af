"""ML Test Score Monitoring 7 before labels: quality estimated from the served probabilities
(monitoring/estimate.py, tasks/calibration.py) tracks the realized one when the model is
calibrated, is not trusted when it is not, and a fall beyond its bound recommends
retraining. Synthetic batches whose labels are drawn from the probabilities (calibrated by
construction), and the session's model on the held-out split."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score, roc_auc_score

from {{ cookiecutter.project_slug }}.config import Settings
from {{ cookiecutter.project_slug }}.data.contract import CONTRACT, TARGET
from {{ cookiecutter.project_slug }}.monitoring.champion import OFFLINE_QUALITY
from {{ cookiecutter.project_slug }}.monitoring.estimate import check_estimate
from {{ cookiecutter.project_slug }}.monitoring.summary import DriftSummary
from {{ cookiecutter.project_slug }}.registry.model_store import predict_output, threshold_of
from {{ cookiecutter.project_slug }}.tasks import TASK
from {{ cookiecutter.project_slug }}.tasks.binary import Binary
from {{ cookiecutter.project_slug }}.tasks.calibration import (
    CV_CALIBRATION_ERROR,
    calibration_table,
    expected_calibration_error,
)
from {{ cookiecutter.project_slug }}.tasks.multiclass import Multiclass, least_cost
from {{ cookiecutter.project_slug }}.training.train import TrainedModel

from ..contract_cases import for_tasks

pytestmark = pytest.mark.monitoring

SHARPNESS = (0.4, 1.0, 2.0, 4.0)  # from barely better than chance to well separated
ROWS = 4000
TOLERANCE = 0.03  # several times the sampling spread of ROC AUC on ROWS rows


def calibrated(sharpness: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities of the positive class and labels drawn from them: calibrated."""
    rng = np.random.default_rng(seed)
    probability = 1 / (1 + np.exp(-(sharpness * rng.normal(size=ROWS) - 1.0)))
    return probability, (rng.random(ROWS) < probability).astype(int)


def quiet_summary() -> DriftSummary:
    return DriftSummary(
        drift_detected=False, drift_share=0.0, drift_share_threshold=0.3,
        column_drift_threshold=0.05, drifted_columns=[], columns={}, reference_rows=1,
        current_rows=1, report="",
    )  # fmt: skip


def test_estimated_roc_auc_and_cost_track_the_realized_ones_without_labels() -> None:
    """Monitoring 7: on calibrated batches of very different quality, the ROC AUC and the
    decisions' cost expected from the probabilities alone are within sampling error of
    those the labels give (so no constant can pass: the realized ones span far more)."""
    task = Binary()
    realized: list[float] = []
    estimated: list[float] = []
    for seed, sharpness in enumerate(SHARPNESS):
        probability, labels = calibrated(sharpness, seed)
        decided = task.decide(probability, 0.5)
        realized.append(roc_auc_score(labels, probability))
        estimate = task.estimated_quality(probability, decided)
        assert estimate is not None
        estimated.append(estimate)
        cost = task.estimated_cost(probability, decided)
        assert cost is not None
        wrong = (decided == 1) & (labels == 0), (decided == 0) & (labels == 1)
        costs = CONTRACT.costs
        actual = costs.false_positive * wrong[0].sum() + costs.false_negative * wrong[1].sum()
        bound = 0.03 * max(costs.false_positive, costs.false_negative)  # sampling spread
        assert cost == pytest.approx(actual / ROWS, abs=bound)
    assert max(realized) - min(realized) > 10 * TOLERANCE, realized
    np.testing.assert_allclose(estimated, realized, atol=TOLERANCE)


@for_tasks("binary", "multiclass", why="the accuracy is over the contract's classes (none here)")
def test_expected_accuracy_tracks_the_realized_one_without_labels() -> None:
    """Monitoring 7: a classifier over the contract's classes, each decision right with the
    probability served for it: the accuracy expected from those is the realized one."""
    task, classes = Multiclass(), len(CONTRACT.class_names)
    realized: list[float] = []
    estimated: list[float] = []
    for seed, concentration in enumerate((0.3, 1.0, 5.0)):
        rng = np.random.default_rng(seed)
        probabilities = rng.dirichlet(np.full(classes, concentration), size=ROWS)
        labels = np.array([rng.choice(classes, p=row) for row in probabilities])
        decided = least_cost(probabilities)
        realized.append(accuracy_score(labels, decided))
        estimate = task.estimated_quality(task.served_value(probabilities), decided)
        assert estimate is not None
        estimated.append(estimate)
    assert max(realized) - min(realized) > 3 * TOLERANCE, realized
    np.testing.assert_allclose(estimated, realized, atol=TOLERANCE)


@for_tasks("binary", "multiclass", why="a regressor serves no probability to estimate from")
def test_the_champion_s_estimate_is_near_its_realized_quality_on_held_out_rows(
    trained: TrainedModel, holdout_frame: pd.DataFrame
) -> None:
    """Monitoring 7: the session's model on the held-out split, scored as served: the
    quality estimated without labels is near the one its labels give (a small split: a
    loose bound)."""
    output = predict_output(trained.pipeline, holdout_frame)
    served = TASK.served_value(output)
    decided = TASK.decide(output, threshold_of(trained.pipeline))
    labels = holdout_frame[TARGET.name].to_numpy()
    estimated = TASK.estimated_quality(served, decided)
    realized = TASK.live_quality(labels, served, decided)
    assert estimated is not None
    assert realized is not None
    assert abs(estimated - realized) < 0.15, (estimated, realized)


@for_tasks("binary", "multiclass", why="a regressor serves no probability to estimate from")
def test_an_estimated_fall_recommends_retraining_before_labels(
    settings: Settings,
) -> None:
    """Monitoring 7: with a calibrated champion, an estimate beyond
    monitor.max_estimated_quality_drop below the offline figure recommends retraining and
    says why; one that holds does not."""
    monitor = settings.monitor
    calibrated_champion = {OFFLINE_QUALITY: 0.9, CV_CALIBRATION_ERROR: 0.02}
    rng = np.random.default_rng(0)
    unsure = np.clip(0.45 + rng.normal(0, 0.01, 200), 0, 1)  # no better than chance
    fell = check_estimate(quiet_summary(), calibrated_champion, monitor,
                          served=unsure, decided=(unsure >= 0.5).astype(int))  # fmt: skip
    assert fell.estimated_quality is not None
    assert fell.estimated_quality < 0.6
    assert fell.estimated_quality_degraded
    assert fell.retraining_recommended
    assert fell.reasons == [
        f"estimated {TASK.live.label} fell from 0.900 to {fell.estimated_quality:.3f} "
        "(from the served probabilities, before labels)"
    ]
    assert f"estimated {fell.estimated_quality:.3f}" in fell.verdict()
    sure = np.r_[np.full(100, 0.99), np.full(100, 0.01)] if TASK.name == "binary" else None
    sure = np.full(200, 0.99) if sure is None else sure
    held = check_estimate(quiet_summary(), calibrated_champion, monitor,
                          served=sure, decided=(sure >= 0.5).astype(int))  # fmt: skip
    assert held.estimated_quality is not None
    assert held.estimated_quality > 0.95
    assert not held.estimated_quality_degraded
    assert not held.retraining_recommended


def test_an_uncalibrated_champion_s_estimate_is_reported_unreliable_not_acted_on(
    settings: Settings,
) -> None:
    """Monitoring 7: scores pushed towards 0 and 1 (overconfident, as a raw margin would
    be) rank the same but no longer say how often the model is right: their estimate is
    off, training measures the calibration error, and beyond
    monitor.max_calibration_error the monitor reports the estimate as unreliable rather than
    recommending retraining on it."""
    probability, labels = calibrated(1.0, seed=0)
    logit = np.log(probability / (1 - probability))
    overconfident = 1 / (1 + np.exp(-4 * logit))
    error = expected_calibration_error(calibration_table(labels, overconfident))
    assert error > settings.monitor.max_calibration_error
    off = Binary().estimated_quality(overconfident, (overconfident >= 0.5).astype(int))
    assert off is not None
    assert abs(off - roc_auc_score(labels, overconfident)) > 3 * TOLERANCE
    if not TASK.served_confidence:
        return  # the monitor of a regressor estimates nothing (test below)
    unsure = np.full(200, 0.45)
    summary = check_estimate(
        quiet_summary(), {OFFLINE_QUALITY: 0.9, CV_CALIBRATION_ERROR: error}, settings.monitor,
        served=unsure, decided=np.zeros(200, dtype=int),
    )  # fmt: skip
    assert summary.estimated_quality is not None
    assert summary.estimate_note is not None
    assert "unreliable" in summary.estimate_note
    assert not summary.estimated_quality_degraded
    assert not summary.retraining_recommended


@for_tasks("regression", why="a classifier's quality is estimated (the tests above)")
def test_a_regressor_s_quality_is_said_not_estimated(settings: Settings) -> None:
    """Monitoring 7: a regressor serves a value with no confidence: the monitor says its
    quality is not estimated rather than inventing a figure."""
    served = np.linspace(0, 100, 50)
    summary = check_estimate(quiet_summary(), {OFFLINE_QUALITY: 10.0}, settings.monitor,
                             served=served, decided=served)  # fmt: skip
    assert summary.estimated_quality is None
    assert summary.estimate_note == (
        f"{TASK.live.label} not estimated: regression's served value carries no probability "
        "to estimate from"
    )
    assert not summary.retraining_recommended
