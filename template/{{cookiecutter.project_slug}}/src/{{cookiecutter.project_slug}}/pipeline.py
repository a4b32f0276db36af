"""The pipeline's steps. Each step reads and writes files (so DVC can run them as stages
and skip what is up to date) and records what it did in the tracker.

`STEPS` declares them once, in order: the CLI's `pipeline` command, the DVC stages and every
orchestrator run these same functions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

from .compute import get_engine
from .config import Settings
from .data import ingest as ingestion

if TYPE_CHECKING:
    from .registry.gate import PromotionDecision
    from .registry.model_store import ModelMetadata
    from .serving.batch import BatchResult
    from .tracking import Tracker

# Each step imports what only it uses (the trainer, the tracker, the registry) when it runs:
# `ingest`, and a data contract breach, answer without loading the training stack.


def ingest(settings: Settings) -> ingestion.ProcessedPaths:
    """Validate the raw data against the contract and write the train/test/current splits."""
    return ingestion.ingest(settings.data, settings.seed, get_engine(settings.compute))


def promote(settings: Settings, tracker: Tracker) -> PromotionDecision:
    """Run the promotion gate on the candidate (training/candidate.py registered it): against
    the baseline and the champion re-scored on today's held-out data, then the canary and
    its serving time beside the champion's; crown it if all pass (with gate.shadow on and a
    champion serving, make it the challenger instead). The decision is recorded in
    reports/promotion.json."""
    from .data.contract import MODEL_INPUTS, TARGET
    from .registry import model_store
    from .registry.champion import candidate_dir, crown, crown_challenger, sync_champion
    from .registry.gate import (
        PromotionDecision,
        champion_not_comparable,
        check_serving,
        record_decision,
        refusal_of_rolled_back,
        review_candidate,
        shadowed,
    )
    from .registry.rollback import keep_previous
    from .serving.canary import check_servable
    from .serving.cost import measure_serving_cost
    from .tasks import TASK

    # Training signed it: what is judged is what it trained, not a model put in its place.
    signers = settings.serve.trusted_signers
    pipeline, candidate = model_store.load(candidate_dir(settings), signers, candidate=True)
    holdout = ingestion.read_processed(
        ingestion.ProcessedPaths.under(settings.data.processed_dir).test
    )
    champion = sync_champion(settings, tracker, for_training=True)
    champion_metrics = None
    not_comparable = None
    rival = None  # the champion's version and model, when it can score today's inputs
    if champion is not None and champion.version != candidate.version:
        # Re-score the champion on today's held-out data: a fair, like-for-like comparison,
        # possible only while the contract declares the inputs it was trained on.
        champion_model = tracker.load_model(champion)
        not_comparable = champion_not_comparable(
            champion.version, model_store.inputs_of(champion_model), MODEL_INPUTS
        )
        if not_comparable is None:
            rival = (champion.version, champion_model)
            champion_metrics = TASK.metrics(
                holdout[TARGET.name].to_numpy(),
                model_store.predict_output(champion_model, holdout),
                None,
            )
    primary = TASK.primary.key
    baseline = {primary: candidate.metrics[f"baseline_{primary}"]}
    decision = review_candidate(
        candidate.metrics, baseline, champion_metrics, settings.gate, not_comparable=not_comparable
    )
    if champion is not None and champion.version == candidate.version:
        decision = PromotionDecision(
            False, [f"version {candidate.version} is already the champion"], decision.notes
        )
    if decision.promote:
        problems = check_servable(candidate_dir(settings), holdout, candidate.metrics)
        if problems:
            decision = PromotionDecision(
                False, [f"canary failed: {p}" for p in problems], decision.notes
            )
    serving = candidate.serving  # measured at training, beside the champion of then
    if decision.promote and rival is not None:
        if serving is None or serving.champion_version != rival[0]:  # another champion now
            cost_per_hour = settings.serve.instance_cost_per_hour
            serving = measure_serving_cost(pipeline, holdout, cost_per_hour, rival)
        decision = check_serving(decision, serving, settings.gate)
    rolled_back = tracker.rollback_reason(candidate.version)
    if rolled_back is not None:  # whatever else the gate found: that version failed live
        decision = PromotionDecision(
            False, [refusal_of_rolled_back(candidate.version, rolled_back)], decision.notes
        )
    if decision.promote and settings.gate.shadow and champion is not None:
        decision = shadowed(decision, champion.version)  # probation starts if it is promoted
        crown_challenger(settings, tracker, candidate, datetime.now(UTC))
    elif decision.promote:
        keep_previous(settings)  # what a rollback restores
        previous = champion.version if champion else None
        crown(settings, tracker, candidate, previous, datetime.now(UTC))
    record_decision(
        settings.reports_dir,
        decision,
        candidate_version=candidate.version,
        challenger_version=candidate.version if decision.challenger else None,
        champion_version=champion.version if champion else None,
        champion_metrics=champion_metrics,
        serving=serving.model_dump() if serving else None,
    )
    return decision


@dataclass(frozen=True)
class Step:
    """One step: its name (CLI command, DVC stage, orchestrator task) and what it runs."""

    name: str
    run: Callable[[Settings], object]


def train(settings: Settings) -> ModelMetadata:
    """Train and evaluate a candidate, log it to the tracker and register it."""
    from .tracking import get_tracker
    from .training.candidate import train_candidate

    return train_candidate(settings, get_tracker(settings.tracking))


def promote_with_configured_tracker(settings: Settings) -> PromotionDecision:
    from .tracking import get_tracker

    return promote(settings, get_tracker(settings.tracking))


def score_batch(settings: Settings, day: date | None = None) -> BatchResult:
    """Batch scoring as every orchestrator and CI schedule run it: params.yaml's
    score.input scored by the champion into score.output, {date} in either being `day`
    (default: today, UTC)."""
    from .serving.batch import score_file

    source, destination = settings.score.for_day(day or datetime.now(UTC).date())
    engine = get_engine(settings.compute)
    return score_file(
        source,
        destination,
        settings.serve.model_dir,
        settings.score.chunk_rows,
        engine,
        signers=settings.serve.trusted_signers,
    )


STEPS: tuple[Step, ...] = (
    Step("ingest", ingest),
    Step("train", train),
    Step("promote", promote_with_configured_tracker),
)
