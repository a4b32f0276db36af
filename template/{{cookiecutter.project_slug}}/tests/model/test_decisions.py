"""Cost-weighted decisions: the threshold minimises the expected cost of the contract's
cost matrix, ships inside the model, and beats the cost-blind 0.5 threshold when the costs
differ."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from {{ cookiecutter.project_slug }} import pipeline
from {{ cookiecutter.project_slug }}.config import Settings
from {{ cookiecutter.project_slug }}.data.contract import (
    CONTRACT,
    COSTS,
    NEGATIVE_CLASS,
    POSITIVE_CLASS,
    TARGET,
    Costs,
)
from {{ cookiecutter.project_slug }}.registry import model_store
from {{ cookiecutter.project_slug }}.registry.champion import candidate_dir
from {{ cookiecutter.project_slug }}.registry.model_store import predict_output, threshold_of
from {{ cookiecutter.project_slug }}.tasks.binary import quality_metrics
from {{ cookiecutter.project_slug }}.tasks.threshold import (
    choose_threshold,
    confusion,
    decide,
    expected_cost,
)
from {{ cookiecutter.project_slug }}.tracking import get_tracker
from {{ cookiecutter.project_slug }}.training.candidate import train_candidate
from {{ cookiecutter.project_slug }}.training.train import TrainedModel, features_and_target

from ..contract_cases import CONTRACT_FILE, for_tasks, require

pytestmark = [
    pytest.mark.model,
    for_tasks(
        "binary",
        why="a multiclass model's least-cost decision is tested in "
        "tests/tasks/test_multiclass.py; a regressor decides nothing",
    ),
]


def _threshold(model: object) -> float:
    threshold = threshold_of(model)
    assert threshold is not None  # a binary model carries one
    return threshold


# Prices for the arithmetic below: a false positive costs five times a false negative.
PRICES = Costs(false_positive=5.0, false_negative=1.0)
# The cost-minimising threshold on calibrated scores.
BAYES_THRESHOLD = COSTS.false_positive / (COSTS.false_positive + COSTS.false_negative)


def test_the_decisions_use_the_costs_the_contract_declares() -> None:
    """Model 1: the cost matrix is the contract's (`costs`, by the class of the row a
    mistake is about; equal costs when absent), each cost on the right mistake."""
    declared = yaml.safe_load(CONTRACT.path.read_text(encoding="utf-8")).get("costs") or {
        NEGATIVE_CLASS: 1.0, POSITIVE_CLASS: 1.0
    }  # fmt: skip
    assert COSTS.false_positive == declared[NEGATIVE_CLASS]
    assert COSTS.false_negative == declared[POSITIVE_CLASS]


def test_expected_cost_and_confusion_count_each_mistake_at_its_price() -> None:
    """Model 1: a negative row decided positive costs 5, a positive row decided negative 1,
    right decisions 0."""
    y_true = np.array([0, 0, 1, 1, 1])
    granted = np.array([1, 0, 0, 1, 1])
    assert expected_cost(y_true, granted, PRICES) == pytest.approx((5 + 1) / 5)
    assert confusion(y_true, granted) == {
        "true_negatives": 1, "false_positives": 1,
        "false_negatives": 1, "true_positives": 2,
    }  # fmt: skip
    assert decide(np.array([0.2, 0.8, 0.5]), 0.5).tolist() == [
        NEGATIVE_CLASS, POSITIVE_CLASS, POSITIVE_CLASS
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("cost_bad", "cost_good"), [(5.0, 1.0), (1.0, 1.0), (1.0, 5.0)], ids=["5:1", "1:1", "1:5"]
)
def test_chosen_threshold_is_the_bayes_optimal_one(cost_bad: float, cost_good: float) -> None:
    """Model 1: on calibrated scores the cost-minimising threshold is
    cost_bad / (cost_bad + cost_good) (cost_bad: a false positive's); the search finds it."""
    rng = np.random.default_rng(0)
    probability = rng.uniform(size=20_000)
    y_true = (rng.uniform(size=probability.size) < probability).astype(int)
    folds = np.array_split(rng.permutation(probability.size), 5)
    costs = Costs(false_positive=cost_bad, false_negative=cost_good)
    choice = choose_threshold(y_true, probability, folds, costs)
    assert choice.threshold == pytest.approx(cost_bad / (cost_bad + cost_good), abs=0.05)
    assert choice.cost_std > 0


def test_the_threshold_ships_inside_the_model(
    trained: TrainedModel, holdout_frame: pd.DataFrame
) -> None:
    """Infrastructure 1: the model carries the threshold its training chose, and its own
    predictions are decision.decide at that threshold."""
    assert threshold_of(trained.pipeline) == trained.threshold
    x, _ = features_and_target(holdout_frame)
    decisions = decide(
        predict_output(trained.pipeline, holdout_frame), _threshold(trained.pipeline)
    )
    np.testing.assert_array_equal(trained.pipeline.predict(x) == 1, decisions == POSITIVE_CLASS)


def test_the_train_step_ships_the_threshold_chosen_on_the_training_rows(
    fresh_workspace: Settings, trained: TrainedModel
) -> None:
    """Model 1: the candidate the train step saves decides at the threshold chosen on the
    out-of-fold predictions of the training split alone (the session's `trained`, the same
    hyper-parameters on the same rows): the held-out rows, which judge the candidate
    afterwards, never tune its decisions."""
    pipeline.ingest(fresh_workspace)
    train_candidate(fresh_workspace, get_tracker(fresh_workspace.tracking))
    candidate, _ = model_store.load(candidate_dir(fresh_workspace), signers=None)
    assert threshold_of(candidate) == trained.threshold


def test_cost_weighted_decisions_beat_every_constant_decision(
    trained: TrainedModel, holdout_frame: pd.DataFrame
) -> None:
    """Model 5: on held-out data the chosen threshold costs less than the best constant
    decision (all negative or all positive), and lies near the Bayes-optimal threshold of
    the contract's costs."""
    y_true = holdout_frame[TARGET.name].to_numpy()
    probability = predict_output(trained.pipeline, holdout_frame)
    metrics = quality_metrics(y_true, probability, _threshold(trained.pipeline))
    constant = min(
        expected_cost(y_true, np.zeros_like(y_true)), expected_cost(y_true, np.ones_like(y_true))
    )
    assert metrics["expected_cost"] < constant
    assert abs(_threshold(trained.pipeline) - BAYES_THRESHOLD) <= 0.25


def test_unequal_costs_beat_the_half_threshold(
    trained: TrainedModel, holdout_frame: pd.DataFrame
) -> None:
    """Model 5: when the contract's costs differ, the chosen threshold costs clearly less on
    held-out data than the cost-blind 0.5 threshold."""
    require(COSTS.false_positive != COSTS.false_negative, f"{CONTRACT_FILE} declares equal costs")
    y_true = holdout_frame[TARGET.name].to_numpy()
    probability = predict_output(trained.pipeline, holdout_frame)
    metrics = quality_metrics(y_true, probability, _threshold(trained.pipeline))
    assert metrics["expected_cost"] < 0.8 * metrics["expected_cost_at_half"]
