"""The regression task (tasks/regression.py): its metrics and their direction, the baseline,
the error gap between groups, live quality, and the gate comparing errors (lower is better).
Synthetic data: these hold whatever task the contract declares."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from {{ cookiecutter.project_slug }}.config import GateSettings
from {{ cookiecutter.project_slug }}.registry.gate import review_candidate
from {{ cookiecutter.project_slug }}.tasks.regression import Regression, error_gap

TASK = Regression()
Y = np.array([10.0, 20.0, 30.0, 40.0])


def test_a_perfect_prediction_has_no_error_and_explains_all_variance() -> None:
    metrics = TASK.metrics(Y, Y.copy(), None)
    assert metrics["rmse"] == 0.0
    assert metrics["mae"] == 0.0
    assert metrics["r2"] == 1.0
    assert TASK.primary_value(Y, Y + 2.0) == pytest.approx(2.0)


def test_lower_error_is_better_and_a_rise_is_a_relative_drop() -> None:
    assert TASK.primary.better(1.0, than=2.0)
    assert not TASK.primary.better(2.0, than=1.0)
    assert TASK.live.drop(10.0, 12.0) == pytest.approx(0.2)  # 20% more error


def test_the_baseline_predicts_the_training_mean() -> None:
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0]})
    baseline = TASK.baseline().fit(frame, Y)
    np.testing.assert_allclose(baseline.predict(frame), np.full(4, Y.mean()))


def test_the_decision_is_the_prediction_itself() -> None:
    predicted = np.array([1.5, 2.5])
    np.testing.assert_array_equal(TASK.decide(predicted, None), predicted)
    np.testing.assert_array_equal(TASK.served_value(predicted), predicted)


def test_the_error_gap_compares_groups_mean_absolute_errors() -> None:
    groups = pd.Series(["a", "a", "b", "b"])
    assert error_gap(Y, Y + 1.0, groups) == 0.0  # the same error in both groups
    predicted = Y + np.array([1.0, 1.0, 3.0, 3.0])  # b's error is three times a's
    assert error_gap(Y, predicted, groups) == pytest.approx((3.0 - 1.0) / 2.0)
    judged = TASK.judge_groups(Y, predicted, None, groups, min_group_size=1)
    assert judged.gaps[TASK.fairness_metric] == pytest.approx(1.0)
    assert judged.by_group["mae"].to_dict() == {"a": 1.0, "b": 3.0}
    unjudged = TASK.judge_groups(Y, predicted, None, groups, min_group_size=3)
    assert np.isnan(unjudged.gaps[TASK.fairness_metric])  # both groups too small to judge


def test_live_quality_is_the_error_on_labelled_rows() -> None:
    assert TASK.live_quality(Y, Y + 3.0, Y + 3.0) == pytest.approx(3.0)
    assert TASK.live_quality(Y[:0], Y[:0], Y[:0]) is None


def _review(candidate_rmse: float, champion_rmse: float | None) -> list[str]:
    candidate = {"rmse": candidate_rmse, "r2": 0.5}
    champion = None if champion_rmse is None else {"rmse": champion_rmse}
    decision = review_candidate(
        candidate, {"rmse": 10.0}, champion, GateSettings(), fairness=(), task=TASK
    )
    return ["PROMOTE" if decision.promote else "KEEP", *decision.reasons]


def test_the_gate_promotes_a_regressor_only_with_less_error() -> None:
    assert _review(8.0, None)[0] == "PROMOTE"
    assert _review(12.0, None)[:2] == ["KEEP", "does not beat the baseline's RMSE 10.000"]
    assert _review(8.0, 9.0)[0] == "PROMOTE"
    assert _review(8.0, 7.0)[0] == "KEEP"
    floor = review_candidate(
        {"rmse": 8.0, "r2": -0.1}, {"rmse": 10.0}, None, GateSettings(), fairness=(), task=TASK
    )
    assert not floor.promote
    assert floor.reasons == ["R² -0.100 is below the minimum 0.000"]
