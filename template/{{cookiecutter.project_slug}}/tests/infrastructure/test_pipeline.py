"""ML Test Score, infrastructure: the whole pipeline, end to end, with the real tracker."""

from __future__ import annotations

import json
import os
from collections.abc import Hashable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from {{ cookiecutter.project_slug }} import pipeline
from {{ cookiecutter.project_slug }}.config import Settings
from {{ cookiecutter.project_slug }}.data import ingest
from {{ cookiecutter.project_slug }}.data.contract import CONTRACT, MODEL_INPUTS, TARGET
from {{ cookiecutter.project_slug }}.registry import model_store
from {{ cookiecutter.project_slug }}.registry.champion import rollback, save_candidate
from {{ cookiecutter.project_slug }}.registry.model_store import predict_output
from {{ cookiecutter.project_slug }}.registry.rollback import read_probation
from {{ cookiecutter.project_slug }}.serving.app import create_app
from {{ cookiecutter.project_slug }}.tasks import TASK
from {{ cookiecutter.project_slug }}.tracking import CHALLENGER, get_tracker
from {{ cookiecutter.project_slug }}.training.candidate import train_candidate
from {{ cookiecutter.project_slug }}.training.train import build_pipeline, features_and_target

from ..conftest import environment_changes, workspace_settings
from ..contract_cases import TASK_FIGURES, answered

pytestmark = pytest.mark.infrastructure


@pytest.fixture
def fresh(fresh_workspace: Settings) -> Settings:
    return fresh_workspace


def test_pipeline_trains_gates_registers_and_exports_a_champion(tmp_path: Path) -> None:
    """Infrastructure 3: the ML pipeline is integration tested (ingest -> train -> gate ->
    registry -> servable model), and Infrastructure 5: it leaves a model card and figures.
    Monitoring 7: the promotion puts the champion on probation in the registry. The shipped
    configuration, hyper-parameter search included, end to end (the other
    tests here replay the search's result). The tracker leaves the process environment as
    it found it (a subprocess started after it, such as an orchestrator's task, would take
    what it exported for the user's own)."""
    fresh = workspace_settings(tmp_path)
    environment = dict(os.environ)
    tracker = get_tracker(fresh.tracking)
    pipeline.ingest(fresh)
    metadata = train_candidate(fresh, tracker)
    decision = pipeline.promote(fresh, tracker)

    assert decision.promote, decision
    champion = tracker.get_champion()
    assert champion is not None
    assert champion.version == metadata.version
    probation = read_probation(tracker)  # as any machine reading the registry reads it
    assert probation is not None
    assert (probation.version, probation.previous) == (metadata.version, None)
    _, served = model_store.load(fresh.serve.model_dir, fresh.serve.trusted_signers)
    assert served.version == metadata.version
    assert (
        (fresh.reports_dir / "model_card.md")
        .read_text(encoding="utf-8")
        .startswith(f"# Model card: {metadata.name} v{metadata.version}")
    )
    assert {p.name for p in (fresh.reports_dir / "figures").iterdir()} == {
        f"{name}.png" for name in (*TASK_FIGURES[CONTRACT.task], "permutation_importance")
    }
    promotion = json.loads((fresh.reports_dir / "promotion.json").read_text(encoding="utf-8"))
    assert promotion["promote"] is True
    assert promotion["serving"]["p50_ms"] > 0  # its serving cost, with no champion beside
    assert environment_changes(environment) == {}


def test_an_identical_retrain_does_not_replace_the_champion(fresh: Settings) -> None:
    """Monitoring 7: a candidate that is not better keeps the champion."""
    tracker = get_tracker(fresh.tracking)
    pipeline.ingest(fresh)
    first = train_candidate(fresh, tracker)
    assert pipeline.promote(fresh, tracker).promote
    train_candidate(fresh, tracker)
    decision = pipeline.promote(fresh, tracker)

    assert not decision.promote
    assert "does not beat the champion" in str(decision)
    champion = tracker.get_champion()
    assert champion is not None
    assert champion.version == first.version


def test_the_gate_rescores_the_champion_on_todays_held_out_data(fresh: Settings) -> None:
    """Monitoring 7: the gate compares the candidate with the champion scored on today's
    held-out data (here half the earlier rows), not with the figures stored when the champion
    was trained: promotion.json records the champion's scores on today's rows."""
    tracker = get_tracker(fresh.tracking)
    paths = pipeline.ingest(fresh)
    champion = train_candidate(fresh, tracker)
    assert pipeline.promote(fresh, tracker).promote
    earlier = ingest.read_processed(paths.test)
    earlier.iloc[: len(earlier) // 2].drop(columns=list(CONTRACT.slices)).to_parquet(
        paths.test, index=False
    )
    today = ingest.read_processed(paths.test)
    champion_model, _ = model_store.load(fresh.serve.model_dir, fresh.serve.trusted_signers)
    expected = TASK.metrics(
        today[TARGET.name].to_numpy(), predict_output(champion_model, today), None
    )
    train_candidate(fresh, tracker)
    pipeline.promote(fresh, tracker)

    promotion = json.loads((fresh.reports_dir / "promotion.json").read_text(encoding="utf-8"))
    assert promotion["champion_metrics"] == pytest.approx(expected)
    assert promotion["champion_version"] == champion.version


def served_probabilities(settings: Settings, rows: list[dict[Hashable, Any]]) -> np.ndarray:
    """What the API, started on the serving directory, answers for `rows`."""
    with TestClient(create_app(settings.serve.model_dir)) as client:
        response = client.post("/predict/batch", json={"instances": rows})
    assert response.status_code == 200, response.text
    return np.array([answered(p) for p in response.json()["predictions"]])


def test_rollback_serves_the_earlier_model_again(fresh: Settings) -> None:
    """Infrastructure 7: serving models can be rolled back: after promoting a second,
    different model, `rollback` makes the API serve the first one's predictions again. The
    tracker's aliases (the champion's, the challenger's) name one version each, move and go."""
    tracker = get_tracker(fresh.tracking)
    pipeline.ingest(fresh)
    # Any two different models do; a gate that admits both keeps the test about rollback.
    unbounded = dict.fromkeys(fresh.gate.max_demographic_parity_difference, 1.0)
    lenient_gate = {"min_improvement": -1.0, "max_demographic_parity_difference": unbounded}
    lenient = fresh.model_copy(update={"gate": fresh.gate.model_copy(update=lenient_gate)})
    forest = lenient.train.model_copy(
        update={"model": "random_forest", "hyperparameters": {}, "tune": False}
    )
    first = train_candidate(lenient.model_copy(update={"train": forest}), tracker)
    assert pipeline.promote(lenient, tracker).promote
    second = train_candidate(lenient, tracker)
    assert pipeline.promote(lenient, tracker).promote

    holdout = ingest.read_processed(ingest.ProcessedPaths.under(fresh.data.processed_dir).test)
    rows = holdout.head(50)
    instances = rows[list(MODEL_INPUTS)].to_dict(orient="records")
    first_model = tracker.load_model(tracker.get_version(first.version))
    second_model = tracker.load_model(tracker.get_version(second.version))
    assert not np.allclose(predict_output(first_model, rows), predict_output(second_model, rows))
    np.testing.assert_allclose(
        served_probabilities(fresh, instances), predict_output(second_model, rows)
    )

    rollback(fresh, tracker, first.version)
    champion = tracker.get_champion()
    assert champion is not None
    assert champion.version == first.version
    np.testing.assert_allclose(
        served_probabilities(fresh, instances), predict_output(first_model, rows)
    )
    with pytest.raises(LookupError, match="no version '99'"):
        rollback(fresh, tracker, "99")

    # Any alias, as the champion's is (the shadow challenger's, monitoring/shadow.py): it
    # names one version, moves, goes, and leaves the champion alone.
    assert tracker.get_alias(CHALLENGER) is None
    tracker.set_alias(CHALLENGER, tracker.get_version(second.version))
    held = tracker.get_alias(CHALLENGER)
    assert held is not None
    assert held.version == second.version
    tracker.set_alias(CHALLENGER, tracker.get_version(first.version))
    moved = tracker.get_alias(CHALLENGER)
    assert moved is not None
    assert moved.version == first.version
    tracker.remove_alias(CHALLENGER)
    tracker.remove_alias(CHALLENGER)  # already gone: nothing to do
    assert tracker.get_alias(CHALLENGER) is None
    assert tracker.get_champion() == champion


def test_promote_refuses_when_the_canary_fails(fresh: Settings) -> None:
    """Infrastructure 6: a candidate whose exported model is not the one the gate judged
    (here: swapped on disk after training) is refused by `promote`'s canary, and nothing
    is served."""
    tracker = get_tracker(fresh.tracking)
    paths = pipeline.ingest(fresh)
    candidate = train_candidate(fresh, tracker)
    other = build_pipeline("random_forest", {}, fresh.seed, candidate.metrics.get("threshold"))
    other.fit(*features_and_target(ingest.read_processed(paths.train)))
    # Exported, checksummed and signed as training exports (a defect of training itself,
    # not an attacker: test_provenance), so that the canary has to notice the model itself.
    save_candidate(fresh, other, candidate)

    decision = pipeline.promote(fresh, tracker)
    assert not decision.promote
    assert "canary failed" in str(decision)
    assert tracker.get_champion() is None
    with pytest.raises(model_store.ModelNotFoundError):
        model_store.load(fresh.serve.model_dir, fresh.serve.trusted_signers)


def test_a_champion_trained_on_other_inputs_is_not_compared(fresh: Settings) -> None:
    """Model 5 / Monitoring 7: after the contract's model inputs change (here: the champion
    had one the contract no longer declares, as when a feature becomes `ignored`), the
    champion cannot be re-scored on today's data. The gate says so in one line and in
    promotion.json, judges the candidate on its bounds alone, and never crashes."""
    tracker = get_tracker(fresh.tracking)
    paths = pipeline.ingest(fresh)
    train_frame = ingest.read_processed(paths.train)
    retired = "retired_input"
    older = train_frame.assign(**{retired: np.arange(len(train_frame), dtype=float)})
    inputs = older[[*MODEL_INPUTS, retired]]
    champion_model = build_pipeline(fresh.train.model, {}, fresh.seed)
    champion_model.fit(inputs, older[TARGET.name])
    with tracker.start_run("train"):
        version = tracker.register_model(champion_model, inputs.head(5), {})
    tracker.set_champion(version)
    candidate = train_candidate(fresh, tracker)

    decision = pipeline.promote(fresh, tracker)
    assert decision.promote, decision
    said = str(decision)
    assert f"champion v{version.version} not compared" in said, said
    assert f"no longer inputs: {retired}" in said, said
    assert "\n" not in said
    promotion = json.loads((fresh.reports_dir / "promotion.json").read_text(encoding="utf-8"))
    assert promotion["champion_version"] == version.version
    assert promotion["champion_metrics"] is None
    assert any("not compared" in note for note in promotion["notes"]), promotion
    champion = tracker.get_champion()
    assert champion is not None
    assert champion.version == candidate.version
