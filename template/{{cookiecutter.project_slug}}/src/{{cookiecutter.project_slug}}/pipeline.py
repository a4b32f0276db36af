"""The pipeline's steps. Each step reads and writes files (so DVC can run them as stages
and skip what is up to date) and records what it did in the tracker.

`STEPS` declares them once, in order: the CLI's `pipeline` command, the DVC stages and every
orchestrator run these same functions.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from contextlib import suppress
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from . import data, lineage, model_card, model_store, retraining
from .config import Settings
from .decision import threshold_of
from .evaluate import evaluate, quality_metrics, write_figures
from .gate import Decision, decide
from .predict import TOLERANCE, frame_columns, load_scorer, predict_probability
from .schema import MODEL_INPUTS, TARGET
from .tracking import ModelVersion, Tracker, get_tracker
from .train import build_baseline, estimator_of, features_and_target, train


def candidate_dir(settings: Settings) -> Path:
    return settings.models_dir / "candidate"


def ingest(settings: Settings) -> data.ProcessedPaths:
    """Validate the raw data against the contract and write the train/test/current splits."""
    return data.ingest(settings.data, settings.seed)


def _processed(settings: Settings) -> data.ProcessedPaths:
    return data.ProcessedPaths.under(settings.data.processed_dir)


def train_candidate(settings: Settings, tracker: Tracker) -> model_store.ModelMetadata:
    """Train, evaluate against a baseline, register a new version and write its reports."""
    paths = _processed(settings)
    train_frame, holdout = data.read_processed(paths.train), data.read_processed(paths.test)
    figures_dir = settings.reports_dir / "figures"
    with tracker.start_run("train") as run_id:
        tracker.log_params(settings.model_dump(mode="json"))
        trained = train(train_frame, settings.train, settings.seed, settings.decision)
        evaluation = evaluate(
            trained.pipeline,
            holdout,
            settings.data.sensitive_features,
            settings.seed,
            settings.decision,
            settings.gate.min_group_size,
        )
        baseline = build_baseline().fit(*features_and_target(train_frame))
        baseline_metrics = quality_metrics(
            holdout[TARGET.name].to_numpy(),
            predict_probability(baseline, holdout),
            trained.threshold.threshold,
            settings.decision,
        )
        metrics = {
            **evaluation.metrics,
            "cv_roc_auc_mean": trained.cv_roc_auc_mean,
            "cv_roc_auc_std": trained.cv_roc_auc_std,
            "cv_expected_cost_mean": trained.threshold.cost_mean,
            "cv_expected_cost_std": trained.threshold.cost_std,
            **{f"baseline_{name}": value for name, value in baseline_metrics.items()},
        }
        trained_on = lineage.describe(settings.data.raw_path, retraining.model_params(settings))
        tracker.log_params({"model": trained.hyperparameters, "lineage": trained_on})
        tracker.log_metrics(metrics)
        version = tracker.register_model(
            trained.pipeline, holdout[list(MODEL_INPUTS)].head(5), trained_on
        )
        metadata = model_store.ModelMetadata(
            name=version.name,
            version=version.version,
            run_id=run_id,
            model_type=trained.model_name,
            metrics=metrics,
            hyperparameters=trained.hyperparameters,
            inputs=list(MODEL_INPUTS),
            lineage=dict(version.lineage),
        )
        figures = write_figures(evaluation, figures_dir)
        card = model_card.write(
            settings.reports_dir / "model_card.md",
            metadata,
            evaluation,
            baseline_metrics,
            figures,
            settings,
        )
        metrics_file = settings.reports_dir / "metrics.json"
        metrics_file.write_text(json.dumps(metrics, indent=2, sort_keys=True), encoding="utf-8")
        for artifact in (figures_dir, card, metrics_file):
            tracker.log_artifact(artifact)
        model_store.save(candidate_dir(settings), trained.pipeline, metadata)
    return metadata


def check_servable(
    directory: Path, holdout: pd.DataFrame, trained: Mapping[str, float]
) -> list[str]:
    """Canary: load the exported model the way the API does, score the held-out data with
    the sklearn pipeline (the reference) and with the API's fast scorer (predict.py), and
    compare with what training measured (`trained`: its held-out ROC AUC and threshold).
    Returns the problems found (empty when the model may serve)."""
    try:
        pipeline, _ = model_store.load(directory)
    except model_store.CorruptModelError as error:
        return [f"the exported model cannot be served: {error}"]
    reference = predict_probability(pipeline, holdout)
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
    if threshold_of(pipeline) != trained["threshold"]:
        problems.append(
            f"the exported model decides at {threshold_of(pipeline)}, "
            f"training chose {trained['threshold']}"
        )
    gap = float(np.max(np.abs(served - reference), initial=0.0))
    if not gap <= TOLERANCE:
        problems.append(
            f"the {kind} serving path differs from the sklearn pipeline by {gap:.2g} "
            f"(tolerance {TOLERANCE:g})"
        )
    return problems


def export_champion(settings: Settings, tracker: Tracker, version: ModelVersion) -> Path:
    """Write a registered version to the serving directory (params.yaml serve.model_dir)."""
    pipeline = tracker.load_model(version)
    metadata = model_store.ModelMetadata(
        name=version.name,
        version=version.version,
        run_id=version.run_id,
        model_type=type(estimator_of(pipeline)).__name__,
        inputs=list(MODEL_INPUTS),
        lineage=dict(version.lineage),
    )
    with suppress(model_store.ModelNotFoundError):  # richer metadata when it is the candidate
        _, candidate = model_store.load(candidate_dir(settings))
        if candidate.version == version.version:
            metadata = candidate
    return model_store.save(settings.serve.model_dir, pipeline, metadata)


def ship_champion(settings: Settings, tracker: Tracker) -> ModelVersion:
    """Export the registry's champion, resolved by its alias, for serving: what CD builds
    into the image. It never trains: with no champion in the registry it raises LookupError."""
    champion = sync_champion(settings, tracker)
    if champion is None:
        raise LookupError(
            "the registry has no champion: CD ships only a version that CT's promotion gate "
            "promoted there. Point the tracker at the shared store CT writes to (params.yaml "
            "tracking.uri, or the tracker's CI/CD variables) and run CT first."
        )
    return champion


def promote(settings: Settings, tracker: Tracker) -> Decision:
    """Run the promotion gate on the candidate; promote and export it if it passes."""
    pipeline, candidate = model_store.load(candidate_dir(settings))
    holdout = data.read_processed(_processed(settings).test)
    y_true = holdout[TARGET.name].to_numpy()
    champion = sync_champion(settings, tracker)
    champion_metrics = None
    if champion is not None and champion.version != candidate.version:
        # Re-score the champion on today's held-out data: a fair, like-for-like comparison.
        champion_model = tracker.load_model(champion)
        champion_metrics = quality_metrics(y_true, predict_probability(champion_model, holdout))
    baseline = {"roc_auc": candidate.metrics["baseline_roc_auc"]}
    decision = decide(candidate.metrics, baseline, champion_metrics, settings.gate)
    if champion is not None and champion.version == candidate.version:
        decision = Decision(False, [f"version {candidate.version} is already the champion"])
    if decision.promote:
        problems = check_servable(candidate_dir(settings), holdout, candidate.metrics)
        if problems:
            decision = Decision(False, [f"canary failed: {p}" for p in problems])
    if decision.promote:
        # Export first, then move the alias: a crash in between leaves the registry on the
        # old champion, and the next run's sync_champion puts the disk back in line.
        model_store.save(settings.serve.model_dir, pipeline, candidate)
        tracker.set_champion(ModelVersion(candidate.name, candidate.version, candidate.run_id))
    settings.reports_dir.mkdir(parents=True, exist_ok=True)
    (settings.reports_dir / "promotion.json").write_text(
        json.dumps(
            {
                **asdict(decision),
                "candidate_version": candidate.version,
                "champion_version": champion.version if champion else None,
                "champion_metrics": champion_metrics,
            },
            indent=2,
        ),
        encoding="utf-8",
    )
    return decision


def sync_champion(settings: Settings, tracker: Tracker) -> ModelVersion | None:
    """Make the serving directory hold the registry's champion (the single source of
    truth): export it when the directory is empty, holds another version (e.g. after a
    crash between an export and the alias move) or cannot be loaded. Returns the champion."""
    registered = tracker.get_champion()
    if registered is None:
        return None
    try:
        _, exported = model_store.load(settings.serve.model_dir)
        on_disk: str | None = exported.version
    except (model_store.ModelNotFoundError, model_store.CorruptModelError):
        on_disk = None
    if on_disk != registered.version:
        export_champion(settings, tracker, registered)
    return registered


def rollback(settings: Settings, tracker: Tracker, version: str) -> ModelVersion:
    """Make an earlier registered version the champion again and serve it."""
    target = tracker.get_version(version)
    export_champion(settings, tracker, target)
    tracker.set_champion(target)
    return target


@dataclass(frozen=True)
class Step:
    """One step: its name (CLI command, DVC stage, orchestrator task) and what it runs."""

    name: str
    run: Callable[[Settings], object]


STEPS: tuple[Step, ...] = (
    Step("ingest", ingest),
    Step("train", lambda settings: train_candidate(settings, get_tracker(settings.tracking))),
    Step("promote", lambda settings: promote(settings, get_tracker(settings.tracking))),
)
