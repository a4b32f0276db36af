"""ML Test Score Infrastructure 5: the model is debuggable: one row can be stepped
through the pipeline (engineered features, contributions, probability, decision)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from {{ cookiecutter.project_slug }} import config
from {{ cookiecutter.project_slug }}.cli import app
from {{ cookiecutter.project_slug }}.config import Settings
from {{ cookiecutter.project_slug }}.data.contract import (
    EXAMPLE,
    MODEL_INPUTS,
    NEGATIVE_CLASS,
    POSITIVE_CLASS,
)
from {{ cookiecutter.project_slug }}.registry.model_store import (
    estimator_of,
    predict_output,
    threshold_of,
)
from {{ cookiecutter.project_slug }}.tasks.threshold import decide
from {{ cookiecutter.project_slug }}.training.explain import explain, log_odds
from {{ cookiecutter.project_slug }}.training.train import TrainedModel

from ..contract_cases import distinctive_row, for_tasks

pytestmark = [
    pytest.mark.infrastructure,
    for_tasks(
        "binary",
        why="explain steps a binary model's log-odds (a regressor's or a "
        "multiclass model's score is not one log-odds)",
    ),
]


def test_explain_steps_one_row_through_the_pipeline(
    trained: TrainedModel, train_frame: pd.DataFrame, holdout_frame: pd.DataFrame
) -> None:
    """Infrastructure 5: the explanation shows the features the estimator really sees and
    contributions that add up: for the (logistic regression) champion each is exactly
    coefficient x (value - training average), and together they are the gap in log-odds
    between this row and the average one."""
    assert trained.model_name == "logistic_regression"
    one_row = holdout_frame.iloc[[7]]
    result = explain(trained.pipeline, one_row, train_frame)

    features = trained.pipeline[:-1]
    names = list(features.get_feature_names_out())
    table = result.features.set_index("feature").loc[names]
    seen = np.asarray(features.transform(one_row[list(MODEL_INPUTS)]), dtype=float)[0]
    np.testing.assert_allclose(table["value"], seen)
    average = np.asarray(features.transform(train_frame[list(MODEL_INPUTS)]), dtype=float).mean(0)
    np.testing.assert_allclose(table["training_average"], average)
    coefficients = estimator_of(trained.pipeline).coef_[0]
    np.testing.assert_allclose(table["contribution"], coefficients * (seen - average), atol=1e-9)
    gap = log_odds(np.array([result.probability, result.average_probability]))
    assert table["contribution"].sum() == pytest.approx(gap[0] - gap[1], abs=1e-9)

    assert result.probability == pytest.approx(predict_output(trained.pipeline, one_row)[0])
    assert result.threshold == threshold_of(trained.pipeline)
    assert result.decision == decide(np.array([result.probability]), result.threshold)[0]
    assert result.inputs == one_row[list(MODEL_INPUTS)].iloc[0].to_dict()
    assert list(result.features["contribution"].abs()) == sorted(
        result.features["contribution"].abs(), reverse=True
    )


def trained_features(model_dir: Path) -> list[str]:
    """The engineered features of the model in `model_dir`, as its pipeline names them."""
    from {{ cookiecutter.project_slug }}.registry import model_store

    pipeline, _ = model_store.load(model_dir, signers=None)
    return [str(name) for name in pipeline[:-1].get_feature_names_out()]


def test_explain_command_prints_every_step(
    champion_dir: Path, settings: Settings, processed: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Infrastructure 5: `explain` (CLI) prints the inputs, every engineered feature with its
    contribution, the probability and the decision; a bad row is refused by name."""
    monkeypatch.setenv(f"{config.ENV_PREFIX}SERVE__MODEL_DIR", str(champion_dir))
    monkeypatch.setenv(f"{config.ENV_PREFIX}DATA__PROCESSED_DIR", str(settings.data.processed_dir))
    monkeypatch.setenv("COLUMNS", "200")
    config.get_settings.cache_clear()
    try:
        row = distinctive_row()
        result = CliRunner().invoke(app, ["explain", json.dumps(row)])
        assert result.exit_code == 0, result.output
        for step in ("1. The row", "2. Engineered features", "3. Probability"):
            assert step in result.output
        engineered = trained_features(champion_dir)
        assert engineered
        for name in engineered:  # every engineered feature (one-hot columns, derived ones)
            assert name in result.output, name
        decided = re.search(r"threshold [0-9.]+: (\w+)", result.output)
        assert decided is not None, result.output
        assert decided.group(1) in (POSITIVE_CLASS, NEGATIVE_CLASS)

        refused = CliRunner().invoke(app, ["explain", json.dumps({**EXAMPLE, "not_in": 30})])
        assert refused.exit_code == 1
        assert "not a valid row" in refused.output
    finally:
        config.get_settings.cache_clear()
