"""The promotion gate: a candidate replaces the champion only if it is good enough, better
than a trivial baseline and the champion, and fair enough. Every reason is reported."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from .config import GateSettings


@dataclass(frozen=True)
class Decision:
    promote: bool
    reasons: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        verdict = "PROMOTE" if self.promote else "KEEP CHAMPION"
        return f"{verdict}: " + "; ".join(self.reasons)


def decide(
    candidate: Mapping[str, float],
    baseline: Mapping[str, float],
    champion: Mapping[str, float] | None,
    settings: GateSettings,
) -> Decision:
    """Compare held-out metrics of the candidate, the baseline and the champion (all
    measured on the same held-out data)."""
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
    for feature, bound in settings.max_demographic_parity_difference.items():
        gap = candidate.get(f"demographic_parity_difference_{feature}")
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
    return Decision(promote=not failures, reasons=failures or passes)
