"""Cost-weighted decisions: the threshold minimises the expected cost of the documented
cost matrix, ships inside the model, and beats the cost-blind 0.5 threshold."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from {{ cookiecutter.project_slug }}.config import DecisionSettings, Settings
from {{ cookiecutter.project_slug }}.data.contract import BAD_RISK, GOOD_RISK, TARGET
from {{ cookiecutter.project_slug }}.registry.model_store import predict_probability, threshold_of
from {{ cookiecutter.project_slug }}.training.metrics import quality_metrics
from {{ cookiecutter.project_slug }}.training.threshold import (
    choose_threshold,
    confusion,
    decide,
    expected_cost,
)
from {{ cookiecutter.project_slug }}.training.train import TrainedModel, features_and_target

pytestmark = pytest.mark.model

# German Credit's documented cost matrix, pinned: granting credit to a bad risk costs five
# times refusing a good one.
COST_BAD_APPROVED, COST_GOOD_REJECTED = 5.0, 1.0
GERMAN_CREDIT = DecisionSettings(
    cost_approve_bad_risk=COST_BAD_APPROVED, cost_reject_good_risk=COST_GOOD_REJECTED
)


def test_params_use_the_documented_cost_matrix(settings: Settings) -> None:
    """Model 1: the decision's cost matrix in params.yaml is the data set's documented one."""
    assert settings.decision.cost_approve_bad_risk == COST_BAD_APPROVED
    assert settings.decision.cost_reject_good_risk == COST_GOOD_REJECTED


def test_expected_cost_and_confusion_count_each_mistake_at_its_price() -> None:
    """Model 1: a bad risk granted costs 5, a good risk refused 1, right decisions 0."""
    y_true = np.array([0, 0, 1, 1, 1])
    granted = np.array([1, 0, 0, 1, 1])
    assert expected_cost(y_true, granted, GERMAN_CREDIT) == pytest.approx((5 + 1) / 5)
    assert confusion(y_true, granted) == {
        "bad_risk_rejected": 1, "bad_risk_granted": 1,
        "good_risk_rejected": 1, "good_risk_granted": 2,
    }  # fmt: skip
    assert decide(np.array([0.2, 0.8, 0.5]), 0.5).tolist() == [BAD_RISK, GOOD_RISK, GOOD_RISK]


@pytest.mark.parametrize(
    ("cost_bad", "cost_good"), [(5.0, 1.0), (1.0, 1.0), (1.0, 5.0)], ids=["5:1", "1:1", "1:5"]
)
def test_chosen_threshold_is_the_bayes_optimal_one(cost_bad: float, cost_good: float) -> None:
    """Model 1: on calibrated scores the cost-minimising threshold is
    cost_bad / (cost_bad + cost_good) (5/6 for German Credit); the search finds it."""
    rng = np.random.default_rng(0)
    probability = rng.uniform(size=20_000)
    y_true = (rng.uniform(size=probability.size) < probability).astype(int)
    folds = np.array_split(rng.permutation(probability.size), 5)
    costs = DecisionSettings(cost_approve_bad_risk=cost_bad, cost_reject_good_risk=cost_good)
    choice = choose_threshold(y_true, probability, folds, costs)
    assert choice.threshold == pytest.approx(cost_bad / (cost_bad + cost_good), abs=0.05)
    assert choice.cost_std > 0


def test_the_threshold_ships_inside_the_model(
    trained: TrainedModel, holdout_frame: pd.DataFrame
) -> None:
    """Infrastructure 1: the model carries the threshold its training chose, and its own
    predictions are decision.decide at that threshold."""
    assert threshold_of(trained.pipeline) == trained.threshold.threshold
    x, _ = features_and_target(holdout_frame)
    decisions = decide(
        predict_probability(trained.pipeline, holdout_frame), trained.threshold.threshold
    )
    np.testing.assert_array_equal(trained.pipeline.predict(x) == 1, decisions == GOOD_RISK)


def test_cost_weighted_decisions_beat_the_half_threshold_and_the_baseline(
    trained: TrainedModel, holdout_frame: pd.DataFrame
) -> None:
    """Model 5: on held-out data the chosen threshold costs clearly less than the
    cost-blind 0.5 threshold and than refusing everyone (the best constant decision)."""
    y_true = holdout_frame[TARGET.name].to_numpy()
    probability = predict_probability(trained.pipeline, holdout_frame)
    metrics = quality_metrics(y_true, probability, threshold_of(trained.pipeline), GERMAN_CREDIT)
    refuse_everyone = expected_cost(y_true, np.zeros_like(y_true), GERMAN_CREDIT)
    assert metrics["expected_cost"] < 0.8 * metrics["expected_cost_at_half"]
    assert metrics["expected_cost"] < refuse_everyone
    assert 0.6 <= trained.threshold.threshold <= 0.95
