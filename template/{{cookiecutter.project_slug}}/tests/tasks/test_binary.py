"""The binary task (tasks/binary.py): the decision at the threshold (the positive class from
it on), the served value, and live quality that needs both classes. Synthetic data."""

from __future__ import annotations

import numpy as np

from {{ cookiecutter.project_slug }}.tasks.binary import ROC_AUC, Binary

TASK = Binary()


def test_the_positive_class_is_decided_from_the_threshold_on() -> None:
    probability = np.array([0.2, 0.6, 0.6001, 0.9])
    np.testing.assert_array_equal(TASK.decide(probability, 0.6), [0, 1, 1, 1])
    np.testing.assert_array_equal(TASK.decide(probability, None), [0, 1, 1, 1])  # 0.5


def test_roc_auc_is_higher_is_better_and_a_fall_is_a_drop() -> None:
    assert ROC_AUC.better(0.8, than=0.7)
    assert ROC_AUC.drop(0.8, 0.7) == 0.8 - 0.7


def test_live_roc_auc_needs_both_classes() -> None:
    labels = np.array([0, 1, 0, 1])
    served = np.array([0.1, 0.9, 0.2, 0.8])
    assert TASK.live_quality(labels, served, TASK.decide(served, 0.5)) == 1.0
    assert TASK.live_quality(np.ones(4), served, TASK.decide(served, 0.5)) is None
