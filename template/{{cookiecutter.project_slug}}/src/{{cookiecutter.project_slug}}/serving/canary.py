"""The canary: before a model may serve, load it the way the API does and check that it is
the model that was evaluated, and that the API's compiled scorer agrees with it."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from ..data.contract import TARGET
from ..registry import model_store
from ..tasks import TASK
from .scorer import TOLERANCE, frame_columns, load_scorer


def check_servable(
    directory: Path, holdout: pd.DataFrame, trained: Mapping[str, float]
) -> list[str]:
    """Score the held-out data with the exported sklearn pipeline (the reference) and with
    the API's fast scorer, and compare with what training measured (`trained`: its
    held-out primary metric and threshold). Returns the problems found (empty: it may
    serve)."""
    try:
        pipeline, _ = model_store.load(directory, signers=None)  # a candidate the gate verified
    except model_store.CorruptModelError as error:
        return [f"the exported model cannot be served: {error}"]
    reference = model_store.predict_output(pipeline, holdout)
    scorer, kind = load_scorer(pipeline)
    served = scorer(frame_columns(holdout))
    if not np.all(np.isfinite(served)):
        return ["predictions are not finite"]
    if TASK.kind == "classifier" and (served.min() < 0 or served.max() > 1):
        return ["predictions are not probabilities"]
    problems = []
    threshold = model_store.threshold_of(pipeline)
    measured = TASK.metrics(holdout[TARGET.name].to_numpy(), reference, threshold)
    # The primary metric first, then every other one training recorded: a model that
    # scores a perfect primary metric (an easy data set) differs in the others. The
    # threshold is checked on its own, below.
    for key in sorted(set(measured) - {"threshold"}, key=lambda k: (k != TASK.primary.key, k)):
        value = measured[key]
        if key in trained and not np.isclose(value, trained[key], rtol=0, atol=1e-9):
            problems.append(
                f"the exported model's held-out {key.replace('_', ' ')} is {value:.4f}, "
                f"training measured {trained[key]:.4f}: it is not the model that was evaluated"
            )
            break
    if threshold != trained.get("threshold"):
        problems.append(
            f"the exported model decides at {threshold}, training chose {trained.get('threshold')}"
        )
    gap = float(np.max(np.abs(served - reference), initial=0.0))
    if not gap <= TOLERANCE:
        problems.append(
            f"the {kind} serving path differs from the sklearn pipeline by {gap:.2g} "
            f"(tolerance {TOLERANCE:g})"
        )
    return problems
