"""A model card (Mitchell et al., 2019) for every trained candidate: what the model is,
how good it is overall and per group, how it decides, and what it must not be used for."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .evaluate import Evaluation
from .model_store import ModelMetadata
from .schema import DECISION_THRESHOLD


def _cell(value: object) -> str:
    if isinstance(value, float):
        return "n/a" if value != value else f"{value:.3f}"  # NaN: not applicable
    return str(value)


def _table(frame: pd.DataFrame) -> str:
    header = "| " + " | ".join(map(str, frame.columns)) + " |"
    rule = "|" + "---|" * len(frame.columns)
    rows = [
        "| " + " | ".join(_cell(value) for value in row) + " |"
        for row in frame.itertuples(index=False)
    ]
    return "\n".join([header, rule, *rows])


def _lineage(lineage: dict[str, str]) -> str:
    if not lineage:
        return "not recorded"
    dirty = " (with uncommitted changes)" if lineage["code_dirty"] == "true" else ""
    return (
        f"data `{lineage['data_path']}` md5 `{lineage['data_md5']}`; "
        f"code commit `{lineage['code_commit']}`{dirty}"
    )


def render(
    metadata: ModelMetadata,
    evaluation: Evaluation,
    baseline: dict[str, float],
    figures: list[Path],
    card_dir: Path,
) -> str:
    metrics = pd.DataFrame(
        {
            "metric": list(evaluation.metrics),
            "model": list(evaluation.metrics.values()),
            "baseline": [baseline.get(name, float("nan")) for name in evaluation.metrics],
        }
    )
    slices = "\n\n".join(
        f"### By `{feature}`\n\n" + _table(table.reset_index())
        for feature, table in evaluation.slices.items()
    )
    images = "\n".join(
        f"![{path.stem.replace('_', ' ')}]({path.relative_to(card_dir).as_posix()})"
        for path in figures
    )
    params = ", ".join(f"`{k}={v}`" for k, v in metadata.hyperparameters.items()) or "defaults"
    return f"""# Model card: {metadata.name} v{metadata.version}

## Model details
- Type: `{metadata.model_type}` in an sklearn Pipeline (feature engineering included)
- Hyper-parameters: {params}
- Trained: {metadata.trained_at:%Y-%m-%d %H:%M UTC}; run `{metadata.run_id}`
- Lineage: {_lineage(metadata.lineage)}
- Inputs: {", ".join(f"`{name}`" for name in metadata.inputs)}
- Output: probability that the applicant is a good credit risk; credit is granted
  at probability >= {DECISION_THRESHOLD}

## Intended use
Decision support for credit officers assessing loan applications. Not for fully automated
decisions without human review, and not for populations unlike the training data
(German bank customers, 1970s data; see data/raw/README.md).

## Metrics (held-out test set; baseline = class prior)
{_table(metrics)}

## Quality and fairness across groups
The protected attribute `sex` is not a model input; it is used only to measure the
gaps below. The promotion gate bounds the demographic parity difference of the groups
named in params.yaml (`gate.fairness_features`).

{slices}

## Explanations (permutation importance on held-out ROC AUC)
{_table(evaluation.importance)}

## Figures
{images}

## Caveats
- The data set is small (1,000 applicants) and historical; labels reflect past lending
  decisions and may encode their biases.
- Calibration is reported above; re-check it before using probabilities as risk prices.
- Monitoring (`make monitor`) compares live inputs with the training data; retrain when
  it reports drift.
"""


def write(
    path: Path,
    metadata: ModelMetadata,
    evaluation: Evaluation,
    baseline: dict[str, float],
    figures: list[Path],
) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(metadata, evaluation, baseline, figures, path.parent), encoding="utf-8")
    return path
