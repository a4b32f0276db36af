"""ML Test Score, infrastructure tests: reproducible training, unit-tested model specs,
model round-trips and the promotion gate."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from {{ cookiecutter.project_slug }} import model_store
from {{ cookiecutter.project_slug }}.config import GateSettings, Settings
from {{ cookiecutter.project_slug }}.gate import decide
from {{ cookiecutter.project_slug }}.pipeline import check_servable
from {{ cookiecutter.project_slug }}.predict import predict_probability
from {{ cookiecutter.project_slug }}.train import (
    ESTIMATORS,
    TrainedModel,
    build_pipeline,
    features_and_target,
    train,
)

pytestmark = pytest.mark.infrastructure


def test_training_is_reproducible(
    train_frame: pd.DataFrame, holdout_frame: pd.DataFrame, settings: Settings
) -> None:
    """Infrastructure 1: the same data, config and seed give the same model."""
    first = train(train_frame, settings.train, settings.seed)
    second = train(train_frame, settings.train, settings.seed)
    assert first.cv_roc_auc_mean == second.cv_roc_auc_mean
    np.testing.assert_array_equal(
        predict_probability(first.pipeline, holdout_frame),
        predict_probability(second.pipeline, holdout_frame),
    )


@pytest.mark.parametrize("name", sorted(ESTIMATORS))
def test_every_model_spec_trains_and_predicts(name: str, train_frame: pd.DataFrame) -> None:
    """Infrastructure 2: model specs are unit tested (each configurable estimator)."""
    small = train_frame.sample(200, random_state=0)
    pipeline = build_pipeline(name, {}, seed=0).fit(*features_and_target(small))
    scores = predict_probability(pipeline, small)
    assert scores.shape == (200,)
    assert ((scores >= 0) & (scores <= 1)).all()


def test_unknown_model_is_refused_by_name() -> None:
    """Infrastructure 2: a typo in params.yaml fails with the valid choices."""
    with pytest.raises(ValueError, match="unknown model 'xgb'"):
        build_pipeline("xgb", {}, seed=0)


def test_saved_model_predicts_exactly_like_the_trained_one(
    trained: TrainedModel, holdout_frame: pd.DataFrame, tmp_path: Path
) -> None:
    """Infrastructure 1 / Monitoring 3: save and load give identical predictions."""
    metadata = model_store.ModelMetadata(
        name="m", version="1", run_id="r", model_type=trained.model_name
    )
    loaded, loaded_metadata = model_store.load(
        model_store.save(tmp_path, trained.pipeline, metadata)
    )
    exported = {"model_sha256", "previous_version"}  # what the export adds
    assert loaded_metadata.model_dump(exclude=exported) == metadata.model_dump(exclude=exported)
    np.testing.assert_array_equal(
        predict_probability(trained.pipeline, holdout_frame),
        predict_probability(loaded, holdout_frame),
    )


def test_loading_from_an_empty_directory_says_what_to_do(tmp_path: Path) -> None:
    """Infrastructure 5: failures are debuggable: the error names the fix."""
    with pytest.raises(model_store.ModelNotFoundError, match="make pipeline"):
        model_store.load(tmp_path)


GOOD = {"roc_auc": 0.78, "demographic_parity_difference_sex": 0.05}
BASELINE = {"roc_auc": 0.5}


@pytest.mark.parametrize(
    ("candidate", "champion", "promote", "reason"),
    [
        (GOOD, None, True, "no champion yet"),
        (GOOD, {"roc_auc": 0.75}, True, "> champion's 0.750"),
        ({**GOOD, "roc_auc": 0.65}, None, False, "below the minimum 0.700"),
        ({**GOOD, "roc_auc": 0.45}, None, False, "does not beat the baseline"),
        (GOOD, {"roc_auc": 0.80}, False, "does not beat the champion's 0.800"),
        (GOOD, {"roc_auc": 0.78}, False, "does not beat the champion's 0.780"),
        ({**GOOD, "demographic_parity_difference_sex": 0.3}, None, False, "exceeds the bound"),
    ],
)
def test_gate_promotes_only_better_fair_models(
    candidate: dict[str, float],
    champion: dict[str, float] | None,
    promote: bool,
    reason: str,
) -> None:
    """Infrastructure 4 / Monitoring 7: quality is validated before serving and never
    regresses: a candidate must pass the bar, the baseline, fairness and the champion."""
    decision = decide(candidate, BASELINE, champion, GateSettings())
    assert decision.promote is promote
    assert any(reason in r for r in decision.reasons), decision.reasons


def test_canary_catches_a_model_that_changed_on_the_way_to_serving(
    trained: TrainedModel, holdout_frame: pd.DataFrame, tmp_path: Path
) -> None:
    """Infrastructure 6: the exported model is loaded like the API loads it and must
    reproduce the trained model's scores before it may serve."""
    metadata = model_store.ModelMetadata(name="m", version="1", run_id="r", model_type="x")
    directory = model_store.save(tmp_path, trained.pipeline, metadata)
    expected = predict_probability(trained.pipeline, holdout_frame)
    assert check_servable(directory, holdout_frame, expected) == []
    assert check_servable(directory, holdout_frame, 1 - expected) == [
        "the reloaded model predicts differently from the trained one"
    ]
