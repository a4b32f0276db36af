"""The multiclass task's decision policy (tasks/multiclass.py): the class of least expected
cost (equal costs: the most probable class), its expected cost, and the selection-rate gap
between groups. Synthetic data: these hold whatever task the contract declares; the task's
metrics over the contract's classes are checked on a multiclass contract."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from {{ cookiecutter.project_slug }}.data.contract import CONTRACT
from {{ cookiecutter.project_slug }}.tasks.classification import selection_gap
from {{ cookiecutter.project_slug }}.tasks.multiclass import Multiclass, expected_cost, least_cost

from ..contract_cases import for_tasks

P = np.array([[0.5, 0.4, 0.1], [0.2, 0.3, 0.5], [0.1, 0.8, 0.1]])


def test_equal_costs_decide_the_most_probable_class() -> None:
    np.testing.assert_array_equal(least_cost(P, np.ones(3)), [0, 2, 1])


def test_a_costlier_class_is_decided_once_its_expected_cost_wins() -> None:
    # Missing a class-1 row costs 3: 0.4 * 3 > 0.5 * 1 and 0.3 * 3 > 0.5 * 1, so the first
    # two rows are decided 1.
    np.testing.assert_array_equal(least_cost(P, np.array([1.0, 3.0, 1.0])), [1, 1, 1])


def test_the_expected_cost_charges_each_wrong_decision_its_row_s_class_cost() -> None:
    costs = np.array([1.0, 3.0, 2.0])
    y_true = np.array([0, 1, 2, 1])
    assert expected_cost(y_true, y_true, costs) == 0.0
    assert expected_cost(y_true, np.array([1, 0, 2, 1]), costs) == pytest.approx((1 + 3) / 4)


def test_the_selection_gap_is_the_largest_rate_gap_of_any_class() -> None:
    groups = pd.Series(["a", "a", "b", "b"])
    assert selection_gap(np.array([0, 1, 0, 1]), groups, [0, 1, 2]) == 0.0
    assert selection_gap(np.array([0, 0, 2, 2]), groups, [0, 1, 2]) == 1.0
    assert selection_gap(np.array([0, 1, 0, 0]), groups, [0, 1, 2]) == pytest.approx(0.5)


@for_tasks("multiclass", why="the multiclass metrics are measured over its classes")
def test_perfect_probabilities_rank_and_decide_every_class() -> None:
    task = Multiclass()
    classes = len(CONTRACT.class_names)
    y_true = np.repeat(np.arange(classes), 2)
    probabilities = np.eye(classes)[y_true]
    metrics = task.metrics(y_true, probabilities, None)
    assert metrics["roc_auc"] == 1.0
    assert metrics["accuracy"] == 1.0
    assert metrics["expected_cost"] == 0.0
    assert task.live_quality(y_true, task.served_value(probabilities), y_true) == 1.0
    wrong = np.roll(probabilities, 1, axis=1)
    assert task.metrics(y_true, wrong, None)["accuracy"] == 0.0
