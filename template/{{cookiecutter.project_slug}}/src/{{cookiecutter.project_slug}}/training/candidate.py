"""The train step's work: train a candidate, evaluate it against a baseline on the held-out
split, register it in the tracker, write its reports (metrics, figures, model card) and
export it, signed (registry/provenance.py)."""

from __future__ import annotations

import json

from sklearn.pipeline import Pipeline

from ..compute import get_engine
from ..config import Settings
from ..data import ingest
from ..data.contract import MODEL_INPUTS, SENSITIVE_ATTRIBUTES, TARGET, check_fairness_bounds
from ..registry import lineage, model_store, retraining
from ..registry.champion import save_candidate
from ..registry.gate import champion_not_comparable
from ..serving.cost import measure_serving_cost
from ..tasks import TASK
from ..tracking import Tracker
from . import model_card
from .figures import write_figures
from .metrics import evaluate
from .train import build_baseline, features_and_target, train

METRICS_FILE = "metrics.json"  # under reports_dir: the candidate's held-out metrics


def comparable_champion(tracker: Tracker) -> tuple[str, Pipeline] | None:
    """The registry's champion (version, model) when it scores today's model inputs, to
    measure the candidate's serving cost beside (None: no champion, or other inputs)."""
    champion = tracker.get_champion()
    if champion is None:
        return None
    model = tracker.load_model(champion)
    inputs = model_store.inputs_of(model)
    if champion_not_comparable(champion.version, inputs, MODEL_INPUTS) is not None:
        return None
    return champion.version, model


def train_candidate(settings: Settings, tracker: Tracker) -> model_store.ModelMetadata:
    """Train, evaluate against a baseline, register a new version and write its reports."""
    check_fairness_bounds(settings.gate.max_demographic_parity_difference)
    paths = ingest.ProcessedPaths.under(settings.data.processed_dir)
    train_frame = ingest.read_processed(paths.train)
    holdout = ingest.read_processed(paths.test)
    figures_dir = settings.reports_dir / "figures"
    with tracker.start_run("train") as run_id:
        tracker.log_params(settings.model_dump(mode="json"))
        engine = get_engine(settings.compute)
        trained = train(train_frame, settings.train, settings.seed, engine=engine)
        evaluation = evaluate(
            trained.pipeline,
            holdout,
            list(SENSITIVE_ATTRIBUTES),
            settings.seed,
            min_group_size=settings.gate.min_group_size,
        )
        serving = measure_serving_cost(
            trained.pipeline,
            holdout,
            settings.serve.instance_cost_per_hour,
            comparable_champion(tracker),
        )
        baseline = build_baseline().fit(*features_and_target(train_frame))
        baseline_metrics = TASK.metrics(
            holdout[TARGET.name].to_numpy(),
            model_store.predict_output(baseline, holdout),
            trained.threshold,
        )
        metrics = {
            **evaluation.metrics,
            **trained.cv_metrics(),
            **{f"baseline_{name}": value for name, value in baseline_metrics.items()},
        }
        trained_on = lineage.describe(settings.data.raw_path, retraining.model_params(settings))
        tracker.log_params({"model": trained.hyperparameters, "lineage": trained_on})
        tracker.log_metrics(metrics | serving.metrics())
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
            serving=serving,
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
        metrics_file = settings.reports_dir / METRICS_FILE
        metrics_file.write_text(json.dumps(metrics, indent=2, sort_keys=True), encoding="utf-8")
        for artifact in (figures_dir, card, metrics_file):
            tracker.log_artifact(artifact)
        save_candidate(settings, trained.pipeline, metadata)
    return metadata
