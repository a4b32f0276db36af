"""A model card (Mitchell et al., 2019) for every trained candidate: what the model is,
how good it is overall and per group, how it decides, and what it must not be used for."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..config import Settings
from ..data.contract import CONTRACT, COSTS, NEGATIVE_CLASS, POSITIVE_CLASS, ROWS, TARGET
from ..registry.gate import FAIRNESS_NOT_ASSESSED
from ..registry.model_store import ModelMetadata
from ..tasks import TASK
from ..tasks.calibration import CV_CALIBRATION_ERROR
from .metrics import Evaluation


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


def fairness_section(evaluation: Evaluation, settings: Settings) -> str:
    """Per-group results of every sensitive attribute, each gap against its gate bound
    (breaches flagged); or that none was assessed, when the contract declares none."""
    if not evaluation.slices:
        return (
            f"**{FAIRNESS_NOT_ASSESSED.capitalize()}** "
            f"({CONTRACT.path} `fairness` is empty): no gap between groups was measured, and "
            "the promotion gate checks none."
        )
    parts = []
    for feature, table in evaluation.slices.items():
        gap = evaluation.metrics[f"{TASK.fairness_metric}_{feature}"]
        bound = settings.gate.max_demographic_parity_difference.get(feature)
        if bound is None:
            verdict = "**NOT GATED**: no bound in params.yaml"
        elif gap > bound:
            verdict = f"**BREACH**: exceeds the bound {bound:.3f}; the gate refuses this model"
        else:
            verdict = f"within the bound {bound:.3f}"
        judged = table.assign(gated=table["count"] >= settings.gate.min_group_size)
        parts.append(
            f"### By `{feature}`\n\n{TASK.fairness_label.capitalize()} {gap:.3f}: {verdict}."
            + _odds(evaluation, feature)
            + "\n\n"
            + _table(judged.reset_index())
        )
    return "\n\n".join(parts)


def _odds(evaluation: Evaluation, feature: str) -> str:
    odds = evaluation.metrics.get(f"equalized_odds_difference_{feature}")
    return "" if odds is None else f" Equalized odds difference {odds:.3f}."


def _sensitive_columns() -> str:
    sensitive = [c.name for c in CONTRACT.columns if c.role == "sensitive"]
    if not sensitive:
        return ""
    names = ", ".join(f"`{name}`" for name in sensitive)
    return f"The sensitive columns ({names}) are not model inputs; they only measure the gaps. "


CALIBRATION_CAVEAT = (
    "- Calibration is reported above; re-check it before reading probabilities as rates.\n"
    if TASK.kind == "classifier"
    else ""
)


def decisions(evaluation: Evaluation, baseline: dict[str, float], cv_line: str) -> str:
    """What the model answers and how it decides (the task's policy), with its cost."""
    m, held_out = evaluation.metrics, len(evaluation.y_true)
    baseline_cost = baseline.get("expected_cost", float("nan"))
    if TASK.name == "regression":
        return f"""- Output: the predicted `{TARGET.name}` ({TARGET.description}); no decision is
  taken from it

## Errors
- Held-out ({held_out} {ROWS}): RMSE **{m["rmse"]:.3f}**, MAE {m["mae"]:.3f}, R² {m["r2"]:.3f}
  (the training mean: RMSE {baseline.get("rmse", float("nan")):.3f})
{cv_line}
"""
    if TASK.name == "multiclass":
        costs = ", ".join(f"`{name}` {cost:g}" for name, cost in CONTRACT.class_costs.items())
        return f"""- Output: each class's probability ({TARGET.description}), and the decision: the
  class of least expected cost

## Decisions and their cost
A wrong decision about a row costs its class's cost: {costs} ({CONTRACT.path} `costs`;
equal when absent, then the decision is the most probable class).

- Expected cost per row (held-out, {held_out} {ROWS}): **{m["expected_cost"]:.3f}**,
  {baseline_cost:.3f} for the class-prior baseline
{cv_line}
"""
    threshold = 0.5 if evaluation.threshold is None else evaluation.threshold
    confusion = pd.DataFrame(
        {
            "actual": [NEGATIVE_CLASS, POSITIVE_CLASS],
            f"decided {NEGATIVE_CLASS}": [int(m["true_negatives"]), int(m["false_negatives"])],
            f"decided {POSITIVE_CLASS}": [int(m["false_positives"]), int(m["true_positives"])],
        }
    )
    return f"""- Output: the probability of `{POSITIVE_CLASS}` ({TARGET.description}), and the
  decision: `{POSITIVE_CLASS}` at probability >= {threshold:.2f}, else `{NEGATIVE_CLASS}`

## Decisions and their cost
Deciding `{POSITIVE_CLASS}` ({CONTRACT.class_meanings[POSITIVE_CLASS]}) for a
`{NEGATIVE_CLASS}` row costs {COSTS.false_positive:g}; deciding `{NEGATIVE_CLASS}`
({CONTRACT.class_meanings[NEGATIVE_CLASS]}) for a `{POSITIVE_CLASS}` row costs
{COSTS.false_negative:g} ({CONTRACT.path} `costs`). The threshold
{threshold:.2f} minimises the expected cost on out-of-fold predictions of the
training data.

- Expected cost per row (held-out): **{m["expected_cost"]:.3f}** at the chosen
  threshold, {m["expected_cost_at_half"]:.3f} at 0.5, {baseline_cost:.3f} for the
  class-prior baseline
{cv_line}

Confusion matrix at threshold {threshold:.2f} (held-out, {held_out} {ROWS}):

{_table(confusion)}
"""


def serving_section(metadata: ModelMetadata, settings: Settings) -> str:
    """What serving it costs (serving/cost.py), beside the champion when there was one."""
    cost = metadata.serving
    if cost is None:
        return "Not measured."
    lines = [
        f"- One applicant: p50 {cost.p50_ms:.3f} ms, p99 {cost.p99_ms:.3f} ms; a batch of the "
        f"held-out {ROWS}: {cost.rows_per_second:,.0f} {ROWS}/s (one process, the scorer the "
        "API serves)",
    ]
    if cost.latency_ratio is not None:
        lines.append(
            f"- Beside champion v{cost.champion_version}, measured in the same run: p50 "
            f"{cost.champion_p50_ms:.3f} ms, {cost.champion_rows_per_second:,.0f} {ROWS}/s; "
            f"this model takes {cost.latency_ratio:.2f} times its time (the gate allows "
            f"{settings.gate.max_latency_ratio:.2f}, `gate.max_latency_ratio`)"
        )
    else:
        lines.append("- No champion to compare with")
    if cost.cost_per_million is not None:
        lines.append(
            f"- A million predictions: {cost.cost_per_million:.3g} at "
            f"`serve.instance_cost_per_hour` {settings.serve.instance_cost_per_hour:g} (at "
            "the batch throughput above)"
        )
    return "\n".join(lines)


def render(
    metadata: ModelMetadata,
    evaluation: Evaluation,
    baseline: dict[str, float],
    figures: list[Path],
    card_dir: Path,
    settings: Settings,
) -> str:
    metrics = pd.DataFrame(
        {
            "metric": list(evaluation.metrics),
            "model": list(evaluation.metrics.values()),
            "baseline": [baseline.get(name, float("nan")) for name in evaluation.metrics],
        }
    )
    caveats = "".join(f"- {caveat}\n" for caveat in CONTRACT.caveats)
    key = TASK.primary.key
    cv = metadata.metrics
    cv_line = (
        f"- Cross-validation on the training data ({settings.train.cv_folds} folds): "
        f"{TASK.primary.label} {cv[f'cv_{key}_mean']:.3f} ± {cv[f'cv_{key}_std']:.3f}"
        + (
            f", expected cost {cv['cv_expected_cost_mean']:.3f} ± {cv['cv_expected_cost_std']:.3f}"
            if "cv_expected_cost_mean" in cv
            else ""
        )
        + " (mean ± std)"
        + (  # what monitoring's estimate before labels rests on (monitoring/estimate.py)
            f"; expected calibration error {cv[CV_CALIBRATION_ERROR]:.3f} out of fold"
            if CV_CALIBRATION_ERROR in cv
            else ""
        )
        if f"cv_{key}_mean" in cv
        else ""
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
{decisions(evaluation, baseline, cv_line)}

## Intended use
{CONTRACT.intended_use or f"Not declared ({CONTRACT.path} `model_card.intended_use`)."}

## Metrics (held-out test set; baseline = {TASK.baseline_name})
{_table(metrics)}

## Serving cost
{serving_section(metadata, settings)}

## Quality and fairness across groups
{_sensitive_columns()}The promotion gate bounds the {TASK.fairness_label} of every
fairness attribute of the contract in params.yaml (`gate.max_demographic_parity_difference`),
over groups of at least {settings.gate.min_group_size} held-out {ROWS} (`gated` below;
smaller groups are shown, too noisy to judge).

{fairness_section(evaluation, settings)}

## Explanations (permutation importance on held-out {TASK.primary.label})
{_table(evaluation.importance)}

## Figures
{images}

## Caveats
{caveats}{CALIBRATION_CAVEAT}- Monitoring (`make monitor`) compares live inputs with the
  training data; retrain when it reports drift.
"""


def write(
    path: Path,
    metadata: ModelMetadata,
    evaluation: Evaluation,
    baseline: dict[str, float],
    figures: list[Path],
    settings: Settings,
) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = render(metadata, evaluation, baseline, figures, path.parent, settings)
    path.write_text(text, encoding="utf-8")
    return path
