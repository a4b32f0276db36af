"""Step one row through the model: raw inputs, the engineered features the estimator
sees, each feature's contribution to the score, the probability and the decision.

A feature's contribution is how much the score (in log-odds) moves when that feature is
set to its average over the training data, all others kept. For the logistic regression it
is exactly coefficient x (value - average), and the contributions add up to the difference
between the row's log-odds and the average row's; for tree ensembles it is the
same question asked of the model (an occlusion estimate, not an exact decomposition).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

from ..data.contract import MODEL_INPUTS, POSITIVE_CLASS
from ..registry.model_store import threshold_of
from ..tasks.threshold import decide

EPSILON = 1e-12  # keeps the log-odds of probabilities of exactly 0 or 1 finite


def log_odds(probability: np.ndarray) -> np.ndarray:
    clipped = np.clip(probability, EPSILON, 1 - EPSILON)
    return np.asarray(np.log(clipped / (1 - clipped)), dtype=float)


@dataclass(frozen=True)
class Explanation:
    """One row, stepped through the model."""

    inputs: dict[str, Any]
    features: pd.DataFrame  # feature, value, training average, contribution (log-odds)
    probability: float
    average_probability: float  # the score of the average training row
    threshold: float
    decision: str


def explain(model: Any, one_row: pd.DataFrame, reference: pd.DataFrame) -> Explanation:
    """Explain the model's score of the one row of `one_row`, against the average
    engineered features of `reference` (the training data)."""
    if len(one_row) != 1:
        raise ValueError(f"explain one row at a time, not {len(one_row)}")
    features, estimator = model[:-1], model[-1]
    names = list(features.get_feature_names_out())
    row = np.asarray(features.transform(one_row[list(MODEL_INPUTS)]), dtype=float)[0]
    average = np.asarray(features.transform(reference[list(MODEL_INPUTS)]), dtype=float).mean(0)
    # Row i: the explained row with feature i replaced by its average (one call scores them all).
    occluded = np.tile(row, (len(names), 1))
    occluded[np.arange(len(names)), np.arange(len(names))] = average
    scores = estimator.predict_proba(np.vstack([row, average, occluded]))[:, 1]
    contributions = log_odds(scores[:1]) - log_odds(scores[2:])
    table = pd.DataFrame(
        {"feature": names, "value": row, "training_average": average,
         "contribution": contributions}
    )  # fmt: skip
    order = table["contribution"].abs().sort_values(ascending=False).index
    threshold = threshold_of(model)
    if threshold is None:  # log-odds contributions explain a binary model's score only
        raise ValueError("explain: only a binary model's decision is explained")
    return Explanation(
        inputs={name: one_row[name].iloc[0] for name in MODEL_INPUTS},
        features=table.loc[order].reset_index(drop=True),
        probability=float(scores[0]),
        average_probability=float(scores[1]),
        threshold=threshold,
        decision=str(decide(scores[:1], threshold)[0]),
    )


def print_explanation(result: Explanation, model: str) -> None:
    """`result` as `<cli> explain` shows it, on stdout: the row, each engineered feature's
    contribution (largest first), then the probability and the decision."""
    out = Console()
    out.print(model)
    inputs = Table("input", "value", title="1. The row (raw inputs)")
    for name, value in result.inputs.items():
        inputs.add_row(name, str(value))
    out.print(inputs)
    features = Table(
        "feature", "value", "training average", "contribution (log-odds)",
        title="2. Engineered features and their contributions (largest first)",
    )  # fmt: skip
    for feature in result.features.itertuples():
        features.add_row(
            str(feature.feature), f"{feature.value:.3f}", f"{feature.training_average:.3f}",
            f"{feature.contribution:+.3f}",
        )  # fmt: skip
    out.print(features)
    out.print(
        f"3. Probability of {POSITIVE_CLASS} {result.probability:.3f} (average row "
        f"{result.average_probability:.3f}); threshold {result.threshold:.2f}: "
        f"[bold]{result.decision}[/]"
    )
