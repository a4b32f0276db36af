"""ML Test Score Data 2: all features are beneficial."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.metrics import roc_auc_score

from {{ cookiecutter.project_slug }}.config import Settings
from {{ cookiecutter.project_slug }}.data.contract import CONTRACT, MODEL_INPUTS, TARGET
from {{ cookiecutter.project_slug }}.registry.model_store import estimator_of
from {{ cookiecutter.project_slug }}.training.metrics import importance_table
from {{ cookiecutter.project_slug }}.training.train import TrainedModel

pytestmark = pytest.mark.data

REPEATS = 30
NOISE = "pure_noise"
# Inputs a review found no better than noise on held-out data and kept (contract.yaml
# `known_weak_inputs`): any other input that fails, e.g. a newly added one, fails the test.
KNOWN_NOT_BETTER_THAN_NOISE = set(CONTRACT.known_weak_inputs)


def test_no_model_input_makes_held_out_quality_worse(
    trained: TrainedModel, holdout_frame: pd.DataFrame, settings: Settings
) -> None:
    """Data 2: shuffling an input must not *improve* held-out ROC AUC by more than twice
    its measurement noise. A feature that fails belongs out of the model (contract.yaml,
    role: ignored) until it helps."""
    importance = importance_table(trained.pipeline, holdout_frame, settings.seed)
    assert set(importance["feature"]) == set(MODEL_INPUTS)
    harmful = importance[importance["importance"] + 2 * importance["std"] < 0]
    assert harmful.empty, f"inputs that hurt the model:\n{harmful}"


def test_every_input_beats_a_pure_noise_feature(
    trained: TrainedModel,
    train_frame: pd.DataFrame,
    holdout_frame: pd.DataFrame,
    settings: Settings,
) -> None:
    """Data 2: every model input must matter significantly more than a column of pure
    noise. The estimator is refitted on the engineered features plus a noise column; each
    input's held-out permutation importance (ROC AUC drop when the raw input is shuffled, so
    the features derived from it move with it) must exceed the noise column's by two
    standard errors (inputs in KNOWN_NOT_BETTER_THAN_NOISE excepted, listed on purpose)."""
    rng = np.random.default_rng(settings.seed)
    features = trained.pipeline[:-1]  # the fitted feature engineering

    def matrix(frame: pd.DataFrame, noise: np.ndarray) -> np.ndarray:
        engineered = np.asarray(features.transform(frame[list(MODEL_INPUTS)]), dtype=float)
        return np.column_stack([engineered, noise])

    train_noise = rng.normal(size=len(train_frame))
    model = clone(estimator_of(trained.pipeline))
    model.fit(matrix(train_frame, train_noise), train_frame[TARGET.name])
    y_test = holdout_frame[TARGET.name].to_numpy()
    test_noise = rng.normal(size=len(holdout_frame))

    def auc(frame: pd.DataFrame, noise: np.ndarray) -> float:
        return float(roc_auc_score(y_test, model.predict_proba(matrix(frame, noise))[:, 1]))

    reference = auc(holdout_frame, test_noise)
    drops: dict[str, list[float]] = {name: [] for name in [*MODEL_INPUTS, NOISE]}
    for _ in range(REPEATS):
        order = rng.permutation(len(holdout_frame))
        drops[NOISE].append(reference - auc(holdout_frame, test_noise[order]))
        for name in MODEL_INPUTS:
            shuffled = holdout_frame.assign(**{name: holdout_frame[name].to_numpy()[order]})
            drops[name].append(reference - auc(shuffled, test_noise))

    noise = np.array(drops.pop(NOISE))
    standard_error = {f: np.sqrt((np.var(d) + noise.var()) / REPEATS) for f, d in drops.items()}
    report = pd.DataFrame(
        {"drop": {f: np.mean(d) for f, d in drops.items()},
         "margin": {f: np.mean(d) - noise.mean() for f, d in drops.items()},
         "standard_error": standard_error}
    )  # fmt: skip
    weak = set(report.index[report["margin"] <= 2 * report["standard_error"]])
    assert weak <= KNOWN_NOT_BETTER_THAN_NOISE, (
        f"inputs no better than noise (noise drop {noise.mean():.4f}):\n{report}"
    )
    strongest = report["margin"].idxmax()
    assert strongest not in weak, report  # the test can tell signal from noise
