"""The promotion gate: a candidate replaces the champion only if it is good enough, better
than a trivial baseline and the champion, and fair enough. Every reason is reported, and
the last decision is kept in `reports/promotion.json`."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..config import GateSettings
from ..data.contract import SENSITIVE_ATTRIBUTES

PROMOTION_FILE = "promotion.json"  # under reports_dir: the last decision and its reasons
# Said with every decision when the contract declares no fairness attribute, so a reader
# of promotion.json knows the gate checked no fairness, rather than found it fine.
FAIRNESS_NOT_ASSESSED = "fairness not assessed: no sensitive attribute declared"


@dataclass(frozen=True)
class PromotionDecision:
    """Whether the candidate becomes the champion, and every reason why (or why not)."""

    promote: bool
    reasons: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what the gate did not check, and why

    def __str__(self) -> str:
        verdict = "PROMOTE" if self.promote else "KEEP CHAMPION"
        return f"{verdict}: " + "; ".join(self.reasons + self.notes)


def review_candidate(
    candidate: Mapping[str, float],
    baseline: Mapping[str, float],
    champion: Mapping[str, float] | None,
    settings: GateSettings,
    fairness: Sequence[str] = SENSITIVE_ATTRIBUTES,
) -> PromotionDecision:
    """Compare held-out metrics of the candidate, the baseline and the champion (all
    measured on the same held-out data); each attribute of `fairness` (the contract's)
    against its bound."""
    auc = candidate["roc_auc"]
    failures: list[str] = []
    passes: list[str] = []

    def check(ok: bool, passed: str, failed: str) -> None:
        (passes if ok else failures).append(passed if ok else failed)

    check(
        auc >= settings.min_roc_auc,
        f"ROC AUC {auc:.3f} >= minimum {settings.min_roc_auc:.3f}",
        f"ROC AUC {auc:.3f} is below the minimum {settings.min_roc_auc:.3f}",
    )
    check(
        auc > baseline["roc_auc"],
        f"beats the baseline ({baseline['roc_auc']:.3f})",
        f"does not beat the baseline's ROC AUC {baseline['roc_auc']:.3f}",
    )
    for feature in fairness:
        bound = settings.max_demographic_parity_difference.get(feature)
        gap = candidate.get(f"demographic_parity_difference_{feature}")
        if bound is None:  # an unbounded attribute must not pass silently
            failures.append(f"demographic parity difference by {feature} has no bound")
            continue
        if gap is None:  # an unmeasured slice must not pass silently
            failures.append(f"demographic parity difference by {feature} was not measured")
            continue
        check(
            gap <= bound,
            f"demographic parity difference by {feature} {gap:.3f} <= {bound:.3f}",
            f"demographic parity difference by {feature} {gap:.3f} exceeds the bound {bound:.3f}",
        )
    if champion is None:
        passes.append("no champion yet")
    else:
        needed = champion["roc_auc"] + settings.min_improvement
        check(
            auc > needed,
            f"ROC AUC {auc:.3f} > champion's {champion['roc_auc']:.3f}"
            f" + margin {settings.min_improvement:.3f}",
            f"ROC AUC {auc:.3f} does not beat the champion's {champion['roc_auc']:.3f}"
            f" + margin {settings.min_improvement:.3f}",
        )
    notes = [] if fairness else [FAIRNESS_NOT_ASSESSED]
    return PromotionDecision(promote=not failures, reasons=failures or passes, notes=notes)


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
