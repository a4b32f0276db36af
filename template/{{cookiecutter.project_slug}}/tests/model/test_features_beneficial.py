"""ML Test Score Data 2: all features are beneficial.

Inputs that measure one thing twice (a tumour's mean and worst radius, say) share the
model's weight: shuffling one while its twin stays tells the model little, so alone each
can look no better than noise although together they carry the signal. Both
tests therefore shuffle each group of strongly correlated inputs at once (CORRELATED); an
input correlated with no other, such as a newly added useless one, is its own group."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.cluster import AgglomerativeClustering

from {{ cookiecutter.project_slug }}.config import Settings
from {{ cookiecutter.project_slug }}.data.contract import (
    CONTRACT,
    MODEL_INPUTS,
    NUMERIC_INPUTS,
    TARGET,
)
from {{ cookiecutter.project_slug }}.registry.model_store import estimator_of, predict_output
from {{ cookiecutter.project_slug }}.tasks import TASK
from {{ cookiecutter.project_slug }}.training.train import TrainedModel

pytestmark = pytest.mark.data

REPEATS = 30
NOISE = "pure_noise"
# Every two numeric inputs of a group correlate at least this much (|Spearman rho|, on the
# training rows): redundant measurements, not merely related ones (a loan's amount and its
# duration, say, stay apart). Categorical inputs are groups of their own.
CORRELATED = 0.7
# Inputs a review found no better than noise on held-out data and kept (contract.yaml
# `known_weak_inputs`): any other input that fails, e.g. a newly added one, fails the test.
# A contract without the list (as `adopt` writes it) has not had that review: the test then
# names the inputs to review instead of failing.
KNOWN_NOT_BETTER_THAN_NOISE = set(CONTRACT.known_weak_inputs or ())


def correlated_groups(frame: pd.DataFrame) -> list[tuple[str, ...]]:
    """The model inputs in groups shuffled together, in contract order (complete linkage
    on 1 - |rho|, so that no pair in a group correlates less than CORRELATED)."""
    numeric = [name for name in MODEL_INPUTS if name in NUMERIC_INPUTS]
    label = {name: f"alone {name}" for name in MODEL_INPUTS}
    if len(numeric) > 1:
        distance = 1 - frame[numeric].corr(method="spearman").abs().fillna(0).to_numpy()
        clusters = AgglomerativeClustering(
            n_clusters=None,
            metric="precomputed",
            linkage="complete",
            distance_threshold=1 - CORRELATED + 1e-9,
        ).fit_predict(distance)
        label.update({name: f"numeric {c}" for name, c in zip(numeric, clusters, strict=True)})
    groups: dict[str, list[str]] = {}
    for name in MODEL_INPUTS:
        groups.setdefault(label[name], []).append(name)
    return [tuple(group) for group in groups.values()]


def shuffled(frame: pd.DataFrame, group: tuple[str, ...], order: np.ndarray) -> pd.DataFrame:
    """`frame` with the group's inputs moved together to other rows (their joint values
    kept, their link to the label and to the other inputs broken)."""
    return frame.assign(**{name: frame[name].to_numpy()[order] for name in group})


def test_groups_gather_correlated_inputs_only(train_frame: pd.DataFrame) -> None:
    """The grouping the tests below rely on: every model input in exactly one group, every
    two numeric inputs of a group correlated at least CORRELATED."""
    groups = correlated_groups(train_frame)
    assert sorted(name for group in groups for name in group) == sorted(MODEL_INPUTS)
    rho = train_frame[list(NUMERIC_INPUTS)].corr(method="spearman").abs().to_numpy()
    index = {name: i for i, name in enumerate(NUMERIC_INPUTS)}
    for group in groups:
        pairs = [rho[index[a], index[b]] for a in group for b in group if a != b]
        assert all(value >= CORRELATED for value in pairs), group


def test_no_model_input_makes_held_out_quality_worse(
    trained: TrainedModel,
    train_frame: pd.DataFrame,
    holdout_frame: pd.DataFrame,
    settings: Settings,
) -> None:
    """Data 2: shuffling an input (with its correlated group) must not *improve* the
    task's held-out primary metric by more than twice its measurement noise. An input that
    fails belongs out of the model (contract.yaml, role: ignored) until it helps."""
    rng = np.random.default_rng(settings.seed)
    y_true = holdout_frame[TARGET.name].to_numpy()

    def quality(frame: pd.DataFrame) -> float:
        """The task's primary metric, signed so that higher is better (ROC AUC; -RMSE)."""
        value = TASK.primary_value(y_true, predict_output(trained.pipeline, frame))
        return value if TASK.primary.higher_is_better else -value

    reference = quality(holdout_frame)
    groups = correlated_groups(train_frame)
    drops: dict[str, list[float]] = {" + ".join(group): [] for group in groups}
    for _ in range(REPEATS):
        order = rng.permutation(len(holdout_frame))
        for group in groups:
            drops[" + ".join(group)].append(
                reference - quality(shuffled(holdout_frame, group, order))
            )
    means = {group: np.mean(d) for group, d in drops.items()}
    spreads = {group: np.std(d) for group, d in drops.items()}
    report = pd.DataFrame({"drop": means, "std": spreads})
    harmful = report[report["drop"] + 2 * report["std"] < 0]
    assert harmful.empty, f"inputs that hurt the model:\n{harmful}"


def test_every_input_beats_a_pure_noise_feature(
    trained: TrainedModel,
    train_frame: pd.DataFrame,
    holdout_frame: pd.DataFrame,
    settings: Settings,
) -> None:
    """Data 2: every model input (with its correlated group) must matter significantly more
    than a column of pure noise. The estimator is refitted on the engineered features plus a
    noise column; each group's held-out permutation importance (ROC AUC drop when its raw
    inputs are shuffled, so the features derived from them move with them) must exceed the
    noise column's by two standard errors (inputs in KNOWN_NOT_BETTER_THAN_NOISE excepted,
    listed on purpose)."""
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
        """The task's primary metric, signed so that higher is better (ROC AUC; -RMSE)."""
        x = matrix(frame, noise)
        if TASK.kind == "regressor":
            output = model.predict(x)
        else:
            output = model.predict_proba(x)
            output = output[:, 1] if TASK.name == "binary" else output
        value = TASK.primary_value(y_test, output)
        return value if TASK.primary.higher_is_better else -value

    reference = auc(holdout_frame, test_noise)
    groups = {" + ".join(group): group for group in correlated_groups(train_frame)}
    drops: dict[str, list[float]] = {name: [] for name in [*groups, NOISE]}
    for _ in range(REPEATS):
        order = rng.permutation(len(holdout_frame))
        drops[NOISE].append(reference - auc(holdout_frame, test_noise[order]))
        for name, group in groups.items():
            drops[name].append(reference - auc(shuffled(holdout_frame, group, order), test_noise))

    noise = np.array(drops.pop(NOISE))
    standard_error = {g: np.sqrt((np.var(d) + noise.var()) / REPEATS) for g, d in drops.items()}
    report = pd.DataFrame(
        {"drop": {g: np.mean(d) for g, d in drops.items()},
         "margin": {g: np.mean(d) - noise.mean() for g, d in drops.items()},
         "standard_error": standard_error}
    )  # fmt: skip
    weak_groups = report.index[report["margin"] <= 2 * report["standard_error"]]
    weak = {name for group in weak_groups for name in groups[group]}
    strongest = report["margin"].idxmax()
    assert strongest not in weak_groups, report  # the test can tell signal from noise
    if CONTRACT.known_weak_inputs is None and weak:
        pytest.skip(
            "Data 2 review pending (contract.yaml has no known_weak_inputs): no better than "
            f"noise: {', '.join(sorted(weak))}; list them there or set their role: ignored"
        )
    assert weak <= KNOWN_NOT_BETTER_THAN_NOISE, (
        f"inputs no better than noise (noise drop {noise.mean():.4f}):\n{report}"
    )
