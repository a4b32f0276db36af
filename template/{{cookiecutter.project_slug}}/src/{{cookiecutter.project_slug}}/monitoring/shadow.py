"""The shadow challenger's verdict: champion and challenger compared on the same labelled
live rows of the inference log (each request scored by both, serving/shadow.py).

The comparison is paired: the task's live metric (ROC AUC for binary, accuracy for
multiclass, RMSE for regression) and, where the task has costs (binary: contract.yaml
`costs`), the expected decision cost, each as the challenger's advantage (positive: the
challenger is better) with a seeded paired bootstrap interval (the same resampled rows for
both models).

* promote: at least `gate.shadow_min_rows` labelled rows, the live metric's advantage at
  least `gate.shadow_margin` with its interval above zero, and the cost's interval not
  below zero. The `champion` alias moves to the challenger, which is exported to the
  serving directory (the API hot-swaps it) and leaves its own, and the `challenger` alias
  goes; the new champion's probation starts (registry/rollback.py), as after any promotion.
* retire: as many rows, and the live metric's interval (or the cost's) below zero: the
  challenger loses clearly. Its alias and its directory go.
* wait: the rows do not settle it yet.
* too few rows (fewer labelled rows than `gate.shadow_min_rows`): nothing is done or
  recorded but a log line.

Each decision, with its figures and reasons, goes to reports/promotion.json, the tracker (a
`shadow` run) and the alert webhook.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field
from scipy.stats import rankdata

from ..config import Settings
from ..data.contract import TARGET
from ..registry import model_store
from ..registry.champion import challenger_dir, crown
from ..registry.gate import PromotionDecision, record_decision
from ..registry.rollback import keep_previous
from ..serving import inference_log as log
from ..tasks import TASK
from ..tasks.threshold import expected_cost
from ..tracking import CHALLENGER, get_tracker
from .alerts import notify

logger = logging.getLogger(__name__)

RESAMPLES = 1000  # bootstrap resamples
LEVEL = 0.95  # the interval's coverage

Verdict = Literal["promote", "retire", "wait", "too few rows"]


class Advantage(BaseModel):
    """The challenger's advantage in one figure (positive: better), with its interval."""

    metric: str
    champion: float
    challenger: float
    advantage: float
    low: float
    high: float


class ShadowVerdict(BaseModel):
    """What the comparison found and decided."""

    verdict: Verdict
    reasons: list[str]
    champion_version: str
    challenger_version: str
    rows: int = Field(description="Labelled live rows both models scored.")
    quality: Advantage | None = None
    cost: Advantage | None = None


Figure = Callable[[np.ndarray, np.ndarray, np.ndarray], float | None]


def _quality(labels: np.ndarray, value: np.ndarray, decided: np.ndarray) -> float | None:
    if TASK.name != "binary":
        return TASK.live_quality(labels, value, decided)
    # ROC AUC as the Mann-Whitney statistic of the positives' ranks: sklearn's value (ties
    # ranked by their mean) without its checks, which cost most of a bootstrap's time.
    positives = labels == 1  # the positive class (data/contract.py)
    count = int(positives.sum())
    if count in (0, len(labels)):
        return None
    ranks = rankdata(value)
    return float(
        (ranks[positives].sum() - count * (count + 1) / 2) / (count * (len(labels) - count))
    )


def _cost(labels: np.ndarray, value: np.ndarray, decided: np.ndarray) -> float:
    return expected_cost(labels, decided)


def paired_advantage(
    name: str,
    figure: Figure,
    higher_is_better: bool,
    labels: np.ndarray,
    champion: tuple[np.ndarray, np.ndarray],
    challenger: tuple[np.ndarray, np.ndarray],
    seed: int,
) -> Advantage | None:
    """The challenger's advantage in `figure` on the same rows, and its paired bootstrap
    interval (resamples where the figure is undefined, e.g. one class only, are skipped).
    None when the figure is undefined on the rows themselves."""
    sign = 1.0 if higher_is_better else -1.0
    ours, theirs = figure(labels, *champion), figure(labels, *challenger)
    if ours is None or theirs is None:
        return None
    rng = np.random.default_rng(seed)
    differences = []
    for _ in range(RESAMPLES):
        rows = rng.integers(0, len(labels), len(labels))
        a = figure(labels[rows], champion[0][rows], champion[1][rows])
        b = figure(labels[rows], challenger[0][rows], challenger[1][rows])
        if a is not None and b is not None:
            differences.append(sign * (b - a))
    tail = (1 - LEVEL) / 2 * 100
    low, high = np.percentile(differences, [tail, 100 - tail]) if differences else (0.0, 0.0)
    return Advantage(
        metric=name,
        champion=ours,
        challenger=theirs,
        advantage=sign * (theirs - ours),
        low=float(low),
        high=float(high),
    )


def compare(
    logged: pd.DataFrame, settings: Settings, champion: str, challenger: str
) -> ShadowVerdict:
    """The verdict on `challenger` against `champion` from the log window's rows that
    both scored and whose label arrived (no-op below gate.shadow_min_rows of them)."""
    if log.CHALLENGER_VERSION not in logged.columns:
        logged = logged.assign(**{log.CHALLENGER_VERSION: np.nan})
    both = logged[
        (logged["model_version"].astype(str) == champion)
        & (logged[log.CHALLENGER_VERSION].astype(str) == challenger)
    ].dropna(subset=[TARGET.name])
    gate = settings.gate
    said = f"challenger v{challenger} against champion v{champion} on {len(both)} labelled rows"
    if len(both) < gate.shadow_min_rows:
        return ShadowVerdict(
            verdict="too few rows",
            reasons=[f"{said}: fewer than gate.shadow_min_rows={gate.shadow_min_rows}"],
            champion_version=champion,
            challenger_version=challenger,
            rows=len(both),
        )
    labels = both[TARGET.name].to_numpy(dtype=TARGET.dtype)
    ours = (both[log.SERVED_VALUE].to_numpy(float), both[log.SERVED_LABEL].to_numpy())
    theirs = (both[log.CHALLENGER_VALUE].to_numpy(float), both[log.CHALLENGER_LABEL].to_numpy())
    higher = TASK.live.higher_is_better
    quality = paired_advantage(
        TASK.live.label, _quality, higher, labels, ours, theirs, settings.seed
    )
    cost = (
        paired_advantage("expected cost", _cost, False, labels, ours, theirs, settings.seed)
        if TASK.name == "binary"
        else None
    )
    verdict, reasons = _decide(quality, cost, gate.shadow_margin, said)
    return ShadowVerdict(
        verdict=verdict,
        reasons=reasons,
        champion_version=champion,
        challenger_version=challenger,
        rows=len(both),
        quality=quality,
        cost=cost,
    )


def _said(advantage: Advantage) -> str:
    return (
        f"{advantage.metric} {advantage.challenger:.3f} vs {advantage.champion:.3f} "
        f"(advantage {advantage.advantage:+.3f}, {LEVEL * 100:.0f}% interval "
        f"[{advantage.low:+.3f}, {advantage.high:+.3f}])"
    )


def _decide(
    quality: Advantage | None, cost: Advantage | None, margin: float, said: str
) -> tuple[Verdict, list[str]]:
    if quality is None:
        return "wait", [f"{said}: {TASK.live.label} is undefined on them (one class), waiting"]
    figures = [_said(quality), *([_said(cost)] if cost is not None else [])]
    if quality.high < 0 or (cost is not None and cost.high < 0):
        return "retire", [f"{said}: the challenger loses", *figures]
    if quality.advantage >= margin and quality.low > 0 and (cost is None or cost.high >= 0):
        return "promote", [f"{said}: the challenger wins by at least {margin:.3f}", *figures]
    return "wait", [f"{said}: not settled yet", *figures]


def act(verdict: ShadowVerdict, settings: Settings) -> None:
    """Carry out the verdict (promote: champion alias and serving directory; retire: the
    challenger's alias and directory) and record it: promotion.json, tracker, webhook."""
    if verdict.verdict == "too few rows":
        logger.info("shadow: %s", "; ".join(verdict.reasons))
        return
    tracker = get_tracker(settings.tracking)
    if verdict.verdict == "promote":  # served first, with the metadata it was judged by
        _, metadata = model_store.load(challenger_dir(settings), settings.serve.trusted_signers)
        keep_previous(settings)  # what a rollback restores
        # The API hot-swaps it.
        crown(settings, tracker, metadata, verdict.champion_version, datetime.now(UTC))
    if verdict.verdict != "wait":
        tracker.remove_alias(CHALLENGER)
        shutil.rmtree(challenger_dir(settings), ignore_errors=True)  # the API stops scoring it
    with tracker.start_run("shadow"):
        tracker.log_params({"shadow": verdict.model_dump(include={"verdict", "reasons"})})
        tracker.log_metrics(_figures(verdict))
    record_decision(
        settings.reports_dir,
        PromotionDecision(verdict.verdict == "promote", verdict.reasons),
        source="shadow",
        verdict=verdict.verdict,
        champion_version=verdict.champion_version,
        challenger_version=verdict.challenger_version,
        shadow=verdict.model_dump(mode="json"),
    )
    level = logging.INFO if verdict.verdict == "wait" else logging.WARNING
    logger.log(level, "shadow %s: %s", verdict.verdict, "; ".join(verdict.reasons))
    if verdict.verdict != "wait":
        notify(
            verdict.model_dump_json(), settings.monitor.alert_webhook, f"shadow {verdict.verdict}"
        )


def _figures(verdict: ShadowVerdict) -> dict[str, float]:
    figures = {"shadow_rows": float(verdict.rows)}
    for name, advantage in (("quality", verdict.quality), ("cost", verdict.cost)):
        if advantage is not None:
            figures |= {
                f"shadow_{name}_champion": advantage.champion,
                f"shadow_{name}_challenger": advantage.challenger,
                f"shadow_{name}_advantage": advantage.advantage,
            }
    return figures


def judge_challenger(logged: pd.DataFrame, settings: Settings) -> ShadowVerdict | None:
    """Compare and act on the challenger being shadowed now (exported beside the champion),
    if there is one: what `monitor` runs on logged traffic."""
    challenger = model_store.current_version(challenger_dir(settings))
    champion = model_store.current_version(settings.serve.model_dir)
    if challenger is None or champion is None:
        return None
    verdict = compare(logged, settings, champion, challenger)
    act(verdict, settings)
    return verdict
