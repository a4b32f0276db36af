"""The canary: before a model may serve, load it the way the API does and check that it is
the model that was evaluated, and that the API's compiled scorer agrees with it."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from ..data.contract import TARGET
from ..registry import model_store
from .scorer import TOLERANCE, frame_columns, load_scorer


def check_servable(
    directory: Path, holdout: pd.DataFrame, trained: Mapping[str, float]
) -> list[str]:
    """Score the held-out data with the exported sklearn pipeline (the reference) and with
    the API's fast scorer, and compare with what training measured (`trained`: its
    held-out ROC AUC and threshold). Returns the problems found (empty: it may serve)."""
    try:
        pipeline, _ = model_store.load(directory)
    except model_store.CorruptModelError as error:
        return [f"the exported model cannot be served: {error}"]
    reference = model_store.predict_probability(pipeline, holdout)
    scorer, kind = load_scorer(pipeline)
    served = scorer(frame_columns(holdout))
    if not np.all(np.isfinite(served)) or served.min() < 0 or served.max() > 1:
        return ["predictions are not finite probabilities"]
    problems = []
    auc = float(roc_auc_score(holdout[TARGET.name], reference))
    if not np.isclose(auc, trained["roc_auc"], rtol=0, atol=1e-9):
        problems.append(
            f"the exported model's held-out ROC AUC is {auc:.4f}, training measured "
            f"{trained['roc_auc']:.4f}: it is not the model that was evaluated"
        )
    threshold = model_store.threshold_of(pipeline)
    if threshold != trained["threshold"]:
        problems.append(
            f"the exported model decides at {threshold}, training chose {trained['threshold']}"
        )
    gap = float(np.max(np.abs(served - reference), initial=0.0))
    if not gap <= TOLERANCE:
        problems.append(
            f"the {kind} serving path differs from the sklearn pipeline by {gap:.2g} "
            f"(tolerance {TOLERANCE:g})"
        )
    return problems
