"""ML Test Score, model tests: quality against a baseline, on slices, for inclusion,
and behaviour the domain expects (directional and invariance tests)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from {{ cookiecutter.project_slug }}.config import Settings
from {{ cookiecutter.project_slug }}.evaluate import Evaluation, evaluate
from {{ cookiecutter.project_slug }}.predict import predict_probability
from {{ cookiecutter.project_slug }}.schema import EXAMPLE, TARGET
from {{ cookiecutter.project_slug }}.train import (
    TrainedModel,
    build_baseline,
    features_and_target,
    search_space,
    train,
)

pytestmark = pytest.mark.model

MIN_SLICE_ROWS = 20  # smaller groups are too noisy to judge (they are still reported)


@pytest.fixture(scope="module")
def evaluation(
    trained: TrainedModel, holdout_frame: pd.DataFrame, settings: Settings
) -> Evaluation:
    return evaluate(
        trained.pipeline, holdout_frame, settings.data.sensitive_features, settings.seed
    )


def probability(trained: TrainedModel, **changes: object) -> float:
    return float(predict_probability(trained.pipeline, pd.DataFrame([{**EXAMPLE, **changes}]))[0])


def test_model_beats_the_baseline_and_the_quality_bar(
    evaluation: Evaluation,
    train_frame: pd.DataFrame,
    holdout_frame: pd.DataFrame,
    settings: Settings,
) -> None:
    """Model 5: a simpler model is not better (the class-prior baseline loses clearly)."""
    baseline = build_baseline().fit(*features_and_target(train_frame))
    baseline_probability = predict_probability(baseline, holdout_frame)
    assert np.ptp(baseline_probability) == 0  # the baseline really is trivial
    assert evaluation.metrics["roc_auc"] >= settings.gate.min_roc_auc
    assert evaluation.metrics["roc_auc"] > 0.5 + 0.15


def test_quality_is_sufficient_on_every_sizeable_slice(evaluation: Evaluation) -> None:
    """Model 6: model quality is sufficient on important data slices."""
    for feature, table in evaluation.slices.items():
        sizeable = table[table["count"] >= MIN_SLICE_ROWS]
        assert not sizeable.empty, feature
        assert (sizeable["roc_auc"] >= 0.6).all(), f"weak slice of {feature}:\n{sizeable}"
        assert (sizeable["accuracy"] >= 0.6).all(), f"weak slice of {feature}:\n{sizeable}"


def test_model_is_fair_across_sexes_within_the_gate_bound(
    evaluation: Evaluation, settings: Settings
) -> None:
    """Model 7: the model is tested for considerations of inclusion (approval-rate gap)."""
    for feature in settings.gate.fairness_features:
        gap = evaluation.metrics[f"demographic_parity_difference_{feature}"]
        assert gap <= settings.gate.max_demographic_parity_difference


def test_predictions_do_not_depend_on_the_protected_attribute(
    trained: TrainedModel, holdout_frame: pd.DataFrame
) -> None:
    """Model 7 (invariance): swapping the applicant's sex never changes the prediction."""
    swapped = holdout_frame.assign(
        sex=holdout_frame["sex"].map({"male": "female", "female": "male"})
    )
    np.testing.assert_array_equal(
        predict_probability(trained.pipeline, holdout_frame),
        predict_probability(trained.pipeline, swapped),
    )


def test_longer_credits_look_riskier(trained: TrainedModel) -> None:
    """Model 6 (directional): the same amount over more months lowers the approval score."""
    scores = [probability(trained, duration=months) for months in (6, 24, 48, 72)]
    assert scores == sorted(scores, reverse=True)


def test_wealthier_checking_account_looks_safer(trained: TrainedModel) -> None:
    """Model 6 (directional): a richer checking account raises the approval score."""
    assert probability(trained, checking_account="rich") > probability(
        trained, checking_account="little"
    )


def test_scores_are_finite_probabilities_at_the_edges_of_the_contract(
    trained: TrainedModel,
) -> None:
    """Monitoring 5: the model is numerically stable on extreme but valid inputs."""
    extremes = [
        {"credit_amount": 1, "duration": 1, "age": 18},
        {"credit_amount": 1_000_000, "duration": 120, "age": 100},
        {"credit_amount": 1_000_000, "duration": 1, "age": 18},
    ]
    scores = [probability(trained, **extreme) for extreme in extremes]
    assert all(np.isfinite(score) and 0 <= score <= 1 for score in scores)


def test_tuning_searches_the_declared_space_and_is_seeded(
    train_frame: pd.DataFrame, settings: Settings
) -> None:
    """Model 3: hyper-parameters are tuned (Optuna) reproducibly."""
    tuned_settings = settings.train.model_copy(update={"tune": True, "n_trials": 3, "cv_folds": 3})
    first = train(train_frame, tuned_settings, settings.seed)
    second = train(train_frame, tuned_settings, settings.seed)
    assert first.hyperparameters == second.hyperparameters
    assert 1e-3 <= first.hyperparameters["C"] <= 100.0
    assert first.cv_roc_auc_mean > 0.6


def test_every_model_type_has_a_search_space() -> None:
    """Model 3: each configurable estimator can be tuned."""

    class Recorder:
        def suggest_float(self, name: str, low: float, high: float, **_: object) -> float:
            return low

        def suggest_int(self, name: str, low: int, high: int, **_: object) -> int:
            return low

    for name in ("logistic_regression", "random_forest", "gradient_boosting"):
        assert search_space(name, Recorder())


def test_label_is_the_only_target(train_frame: pd.DataFrame) -> None:
    """Model 1: the model specification is explicit: one binary target, inputs from the contract."""
    features, target = features_and_target(train_frame)
    assert TARGET.name not in features
    assert set(target.unique()) == {0, 1}
