"""ML Test Score Data 2: all features are beneficial."""

from __future__ import annotations

import pandas as pd
import pytest

from {{ cookiecutter.project_slug }}.config import Settings
from {{ cookiecutter.project_slug }}.evaluate import importance_table
from {{ cookiecutter.project_slug }}.schema import MODEL_INPUTS
from {{ cookiecutter.project_slug }}.train import TrainedModel

pytestmark = pytest.mark.data


def test_no_model_input_makes_held_out_quality_worse(
    trained: TrainedModel, holdout_frame: pd.DataFrame, settings: Settings
) -> None:
    """Data 2: every input earns its place: shuffling it must not *improve* held-out ROC AUC
    by more than twice its measurement noise. A feature that fails belongs out of the model
    (schema.py, model_input=False) until it helps."""
    importance = importance_table(trained.pipeline, holdout_frame, settings.seed)
    assert set(importance["feature"]) == set(MODEL_INPUTS)
    harmful = importance[importance["importance"] + 2 * importance["std"] < 0]
    assert harmful.empty, f"inputs that hurt the model:\n{harmful}"
