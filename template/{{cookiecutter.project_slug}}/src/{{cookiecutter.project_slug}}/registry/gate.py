"""The promotion gate: a candidate replaces the champion only if it is good enough, better
than a trivial baseline and the champion, fair enough, and serves about as fast as the
champion. Every reason is reported, and the last decision is kept in
`reports/promotion.json`."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..config import GateSettings
from ..data.contract import SENSITIVE_ATTRIBUTES
from ..tasks import TASK, Task
from .model_store import ServingCost

PROMOTION_FILE = "promotion.json"  # under reports_dir: the last decision and its reasons
# Said with every decision when the contract declares no fairness attribute, so a reader
# of promotion.json knows the gate checked no fairness, rather than found it fine.
FAIRNESS_NOT_ASSESSED = "fairness not assessed: no sensitive attribute declared"


@dataclass(frozen=True)
class PromotionDecision:
    """Whether the candidate becomes the champion (or, shadowed, the challenger), and every
    reason why (or why not)."""

    promote: bool
    reasons: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what the gate did not check, and why
    challenger: bool = False  # passed, but shadowed first (gate.shadow): not the champion yet

    def __str__(self) -> str:
        verdict = (
            "CHALLENGER" if self.challenger else "PROMOTE" if self.promote else "KEEP CHAMPION"
        )
        return f"{verdict}: " + "; ".join(self.reasons + self.notes)


def floor_of(settings: GateSettings, metric: str) -> float:
    """The gate's absolute floor of the task's floor metric (params.yaml gate.min_<metric>)."""
    floors = {"roc_auc": settings.min_roc_auc, "r2": settings.min_r2}
    return floors[metric]


def champion_not_comparable(
    version: str, champion_inputs: Sequence[str], contract_inputs: Sequence[str]
) -> str | None:
    """Why a champion cannot be re-scored on today's held-out data (None when it can): it
    was trained on other inputs than the contract now declares, e.g. one became ignored."""
    if list(champion_inputs) == list(contract_inputs):
        return None
    dropped = [name for name in champion_inputs if name not in contract_inputs]
    added = [name for name in contract_inputs if name not in champion_inputs]
    differences = [
        *([f"no longer inputs: {', '.join(dropped)}"] if dropped else []),
        *([f"new inputs: {', '.join(added)}"] if added else []),
    ]
    return (
        f"champion v{version} not compared: its inputs differ from the contract's "
        f"({'; '.join(differences) or 'the same inputs in another order'}), "
        "so the candidate is judged on the gate's bounds alone"
    )


def review_candidate(
    candidate: Mapping[str, float],
    baseline: Mapping[str, float],
    champion: Mapping[str, float] | None,
    settings: GateSettings,
    fairness: Sequence[str] = SENSITIVE_ATTRIBUTES,
    task: Task = TASK,
    not_comparable: str | None = None,
) -> PromotionDecision:
    """Compare held-out metrics of the candidate, the baseline and the champion (all
    measured on the same held-out data) in the task's primary metric, its floor metric
    against the floor, and each attribute of `fairness` (the contract's) against its bound.
    `not_comparable` says why a champion exists but has no metrics."""
    primary, floor = task.primary, task.floor
    score, name = candidate[primary.key], primary.label
    failures: list[str] = []
    passes: list[str] = []

    def check(ok: bool, passed: str, failed: str) -> None:
        (passes if ok else failures).append(passed if ok else failed)

    value, minimum = candidate[floor.key], floor_of(settings, floor.key)
    check(
        value >= minimum,
        f"{floor.label} {value:.3f} >= minimum {minimum:.3f}",
        f"{floor.label} {value:.3f} is below the minimum {minimum:.3f}",
    )
    check(
        primary.better(score, baseline[primary.key]),
        f"beats the baseline ({baseline[primary.key]:.3f})",
        f"does not beat the baseline's {name} {baseline[primary.key]:.3f}",
    )
    gap_name = task.fairness_metric.replace("_", " ")
    for feature in fairness:
        bound = settings.max_demographic_parity_difference.get(feature)
        gap = candidate.get(f"{task.fairness_metric}_{feature}")
        if bound is None:  # an unbounded attribute must not pass silently
            failures.append(f"{gap_name} by {feature} has no bound")
            continue
        if gap is None:  # an unmeasured slice must not pass silently
            failures.append(f"{gap_name} by {feature} was not measured")
            continue
        check(
            gap <= bound,
            f"{gap_name} by {feature} {gap:.3f} <= {bound:.3f}",
            f"{gap_name} by {feature} {gap:.3f} exceeds the bound {bound:.3f}",
        )
    if champion is None and not_comparable is None:
        passes.append("no champion yet")
    elif champion is not None:
        # The candidate must be better than the champion by the margin, in the metric's
        # direction (higher ROC AUC, lower RMSE).
        sign, than = ("+", ">") if primary.higher_is_better else ("-", "<")
        margin = settings.min_improvement if sign == "+" else -settings.min_improvement
        needed = champion[primary.key] + margin
        check(
            primary.better(score, needed),
            f"{name} {score:.3f} {than} champion's {champion[primary.key]:.3f}"
            f" {sign} margin {settings.min_improvement:.3f}",
            f"{name} {score:.3f} does not beat the champion's {champion[primary.key]:.3f}"
            f" {sign} margin {settings.min_improvement:.3f}",
        )
    notes = ([] if fairness else [FAIRNESS_NOT_ASSESSED]) + (
        [not_comparable] if not_comparable else []
    )
    return PromotionDecision(promote=not failures, reasons=failures or passes, notes=notes)


def check_serving(
    decision: PromotionDecision, cost: ServingCost | None, settings: GateSettings
) -> PromotionDecision:
    """The decision with the candidate's serving time judged against the champion's
    (`cost`, measured side by side): refused over gate.max_latency_ratio, else said."""
    if cost is None or cost.latency_ratio is None:  # no champion to compare with
        return decision
    ratio, bound = cost.latency_ratio, settings.max_latency_ratio
    figures = (
        f"one applicant p50 {cost.p50_ms:.3f} ms vs {cost.champion_p50_ms:.3f} ms, a batch "
        f"{cost.rows_per_second:,.0f} vs {cost.champion_rows_per_second:,.0f} rows/s"
    )
    if ratio > bound:
        said = (
            f"serves too slowly: {ratio:.2f} times champion v{cost.champion_version}'s time "
            f"({figures}), over gate.max_latency_ratio {bound:.2f}"
        )
        return PromotionDecision(False, [said], decision.notes)
    said = f"serving time {ratio:.2f} times the champion's <= {bound:.2f} ({figures})"
    return PromotionDecision(decision.promote, [*decision.reasons, said], decision.notes)


def refusal_of_rolled_back(version: str, reason: str) -> str:
    """Why a version monitoring rolled back is not promoted again."""
    return (
        f"v{version} was rolled back ({reason}): it is never promoted again; "
        "a new training run registers a new version"
    )


def record_decision(reports_dir: Path, decision: PromotionDecision, **context: Any) -> Path:
    """Write the decision, with what it was about (versions, figures), to PROMOTION_FILE."""
    reports_dir.mkdir(parents=True, exist_ok=True)
    path = reports_dir / PROMOTION_FILE
    path.write_text(json.dumps({**asdict(decision), **context}, indent=2), encoding="utf-8")
    return path


def read_decision(reports_dir: Path) -> dict[str, Any]:
    """The last decision PROMOTION_FILE records."""
    record: dict[str, Any] = json.loads((reports_dir / PROMOTION_FILE).read_text("utf-8"))
    return record


def shadowed(decision: PromotionDecision, champion_version: str) -> PromotionDecision:
    """A passing decision turned into the challenger's (params.yaml gate.shadow): the
    candidate is scored on live traffic beside the champion until `monitor` decides."""
    said = (
        f"shadow: scored on live traffic beside champion v{champion_version}, promoted only "
        "if it wins on labelled live rows (gate.shadow_min_rows, gate.shadow_margin)"
    )
    return PromotionDecision(False, [*decision.reasons, said], decision.notes, challenger=True)
