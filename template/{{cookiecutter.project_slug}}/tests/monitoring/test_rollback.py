"""Automatic rollback: a champion on probation (as the registry records it) that breaks
monitor.rollback's bounds is replaced by the one it replaced (served and aliased), is marked
so that the gate never promotes it again, and a second rollback changes nothing; outside
probation or within the bounds nothing changes."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from {{ cookiecutter.project_slug }} import pipeline
from {{ cookiecutter.project_slug }}.config import Settings
from {{ cookiecutter.project_slug }}.data.contract import (
    MODEL_INPUTS,
    SENSITIVE_ATTRIBUTES,
    TARGET,
)
from {{ cookiecutter.project_slug }}.data.ingest import ProcessedPaths
from {{ cookiecutter.project_slug }}.monitoring.delivery import delivery_metrics
from {{ cookiecutter.project_slug }}.monitoring.probation import check_probation, error_rate
from {{ cookiecutter.project_slug }}.monitoring.summary import DriftSummary
from {{ cookiecutter.project_slug }}.registry import model_store
from {{ cookiecutter.project_slug }}.registry.champion import crown, save_candidate
from {{ cookiecutter.project_slug }}.registry.deliveries import read_note, record_degradation
from {{ cookiecutter.project_slug }}.registry.rollback import (
    previous_dir,
    read_probation,
    roll_back,
)
from {{ cookiecutter.project_slug }}.tasks import TASK
from {{ cookiecutter.project_slug }}.tracking import Tracker, get_tracker
from {{ cookiecutter.project_slug }}.training.train import TrainedModel

from ..conftest import workspace_settings

pytestmark = pytest.mark.monitoring

OFFLINE = 0.8  # the champion's offline figure in the summaries below
PROMOTED = datetime(2026, 1, 1, tzinfo=UTC)
NOW = PROMOTED + timedelta(days=1)  # a monitoring run on probation


def settings_in(root: Path, processed_dir: Path) -> Settings:
    settings = workspace_settings(root)
    return settings.model_copy(
        update={
            "data": settings.data.model_copy(update={"processed_dir": processed_dir}),
            # The same model twice: v2 need not beat v1 to pass the gate.
            "gate": settings.gate.model_copy(update={"min_improvement": -1.0}),
        }
    )


@pytest.fixture(scope="module")
def two_versions(
    tmp_path_factory: pytest.TempPathFactory,
    trained: TrainedModel,
    processed: ProcessedPaths,
    holdout_frame: pd.DataFrame,
) -> Path:
    """A workspace whose registry holds v1 and v2 (the session's model, registered twice),
    each promoted as the pipeline promotes (v2 over v1 a day before the monitoring runs
    below, v1 long before); v2 is the candidate too."""
    root = tmp_path_factory.mktemp("two-versions")
    settings = settings_in(root, processed.train.parent)
    tracker = get_tracker(settings.tracking)
    fitted = trained.pipeline
    output = model_store.predict_output(fitted, holdout_frame)
    y = holdout_frame[TARGET.name].to_numpy()
    metrics = {
        **TASK.metrics(y, output, model_store.threshold_of(fitted)),
        **trained.cv_metrics(),
        f"baseline_{TASK.primary.key}": 0.0 if TASK.primary.higher_is_better else 1e9,
        **{f"{TASK.fairness_metric}_{name}": 0.0 for name in SENSITIVE_ATTRIBUTES},
    }
    versions = []
    with tracker.start_run("rollback-test") as run_id:
        for copy in ("1", "2"):  # contents that differ (a registry may refuse a duplicate)
            example = holdout_frame[list(MODEL_INPUTS)].head(5)
            versions.append(tracker.register_model(fitted, example, {"copy": copy}))
    replaced = None  # v1 was the first champion
    promotions = (PROMOTED - timedelta(days=100), PROMOTED)
    # Outside the run: W&B promotes in a run of its own.
    for version, promoted in zip(versions, promotions, strict=True):
        metadata = model_store.ModelMetadata(
            name=version.name,
            version=version.version,
            run_id=run_id,
            model_type=trained.model_name,
            metrics=metrics,
            inputs=list(MODEL_INPUTS),
        )
        crown(settings, tracker, metadata, replaced, promoted)
        replaced = version.version
    save_candidate(settings, fitted, metadata)  # signed, as training saves it
    return root


@pytest.fixture
def on_probation(two_versions: Path, tmp_path: Path, processed: ProcessedPaths) -> Settings:
    """A copy of `two_versions` of the test's own."""
    shutil.copytree(two_versions, tmp_path, dirs_exist_ok=True)
    return settings_in(tmp_path, processed.train.parent)


def monitored(version: str, live: float) -> DriftSummary:
    """What a monitoring run of `version` found: `live` quality against OFFLINE."""
    return DriftSummary(
        drift_detected=False,
        drift_share=0.0,
        drift_share_threshold=0.3,
        column_drift_threshold=0.05,
        drifted_columns=[],
        columns={},
        reference_rows=100,
        current_rows=100,
        report="",
        model_version=version,
        quality_metric=TASK.live.label,
        live_quality=live,
        offline_quality=OFFLINE,
    )


# Live quality far worse than OFFLINE, and as good, in the task's direction.
WORSE = OFFLINE / 2 if TASK.live.higher_is_better else OFFLINE * 2


def registered(settings: Settings) -> tuple[str, str]:
    """The previous champion and the one on probation (W&B counts from 0, the others from 1)."""
    probation = read_probation(get_tracker(settings.tracking))
    assert probation is not None
    assert probation.previous is not None
    return probation.previous, probation.version


def champion_of(settings: Settings, tracker: Tracker) -> tuple[str | None, str]:
    """The registry's champion and the version the serving directory holds."""
    champion = tracker.get_champion()
    served = model_store.load(settings.serve.model_dir, settings.serve.trusted_signers)[1].version
    return (champion.version if champion else None), served


def test_a_breach_on_probation_rolls_back_to_the_previous_champion(
    on_probation: Settings,
) -> None:
    """Monitoring 7 and Infrastructure 7: live quality far below the offline figure a day
    after a promotion
    restores the previous champion, in the registry and where the API serves from, and
    marks the version rolled back; the summary says what happened and why."""
    old, new = registered(on_probation)
    summary = check_probation(on_probation, monitored(new, WORSE), PROMOTED + timedelta(days=1))
    tracker = get_tracker(on_probation.tracking)
    assert champion_of(on_probation, tracker) == (old, old)
    assert summary.probation is not None
    assert summary.probation.rolled_back
    assert f"v{old} serves again" in summary.reasons[-1]
    reason = tracker.rollback_reason(new)
    assert reason is not None
    assert TASK.live.label in reason
    assert tracker.rollback_reason(old) is None


def test_a_monitor_on_another_machine_finds_the_probation_in_the_registry(
    on_probation: Settings,
) -> None:
    """Monitoring 7 and Infrastructure 7: with nothing of the promoting machine's but the
    registry and the served champion (no reports, no kept previous champion: a fresh CI
    runner, an orchestrator's pod), the breach still rolls back, exporting the previous
    champion from the registry; the restored champion is then on no probation (its own
    promotion's note is gone)."""
    old, new = registered(on_probation)
    shutil.rmtree(on_probation.reports_dir, ignore_errors=True)
    assert not previous_dir(on_probation).exists()
    summary = check_probation(on_probation, monitored(new, WORSE), PROMOTED + timedelta(days=1))
    assert summary.probation is not None
    assert summary.probation.rolled_back
    tracker = get_tracker(on_probation.tracking)
    assert champion_of(on_probation, tracker) == (old, old)
    assert read_probation(tracker) is None


def test_the_registry_keeps_the_ledger_of_deliveries_across_rollbacks(
    on_probation: Settings,
) -> None:
    """Infrastructure 7, counted: the champion alias's note carries every delivery from
    holder to holder (the two promotions, the rollback a breach makes and, once,
    monitoring's retraining recommendation against the restored champion), so the delivery
    metrics (change failure rate, time to restore) follow from the registry alone."""
    old, new = registered(on_probation)
    check_probation(on_probation, monitored(new, WORSE), NOW)  # rolls back
    tracker = get_tracker(on_probation.tracking)
    assert record_degradation(tracker, old, NOW + timedelta(days=2))
    assert not record_degradation(tracker, old, NOW + timedelta(days=3))  # once a champion
    assert not record_degradation(tracker, new, NOW + timedelta(days=3))  # not the champion
    ledger = read_note(get_tracker(on_probation.tracking)).deliveries
    assert [(event.kind, event.version, event.other) for event in ledger] == [
        ("promoted", old, None),
        ("promoted", new, old),
        ("rolled_back", new, old),
        ("degraded", old, None),
    ]
    metrics = delivery_metrics(ledger, NOW + timedelta(days=3))
    assert (metrics.promotions, metrics.rollbacks) == (2, 1)
    assert metrics.change_failure_rate == pytest.approx(0.5)
    assert metrics.time_to_restore_hours == pytest.approx(24)  # promoted, rolled back a day on
    assert metrics.open_outages == 1
    assert read_probation(tracker) is None  # the restored champion is on none


def test_no_rollback_outside_probation_or_within_bounds(on_probation: Settings) -> None:
    """Monitoring 7: the same breach after the probation window, or a champion within its
    bounds during it, leaves the champion serving."""
    _, new = registered(on_probation)
    days = on_probation.monitor.rollback.probation_days
    later = check_probation(on_probation, monitored(new, WORSE), PROMOTED + timedelta(days + 1))
    assert later.probation is None
    holds = check_probation(on_probation, monitored(new, OFFLINE), PROMOTED + timedelta(days=1))
    assert holds.probation is not None
    assert holds.probation.breaches == []
    tracker = get_tracker(on_probation.tracking)
    assert champion_of(on_probation, tracker) == (new, new)
    assert tracker.rollback_reason(new) is None


def test_a_rollback_run_twice_changes_nothing_the_second_time(
    on_probation: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Infrastructure 7: rollback exports first and moves the alias after; killed in
    between, the next run completes it, and once done, a run again changes nothing."""
    old, new = registered(on_probation)
    tracker = get_tracker(on_probation.tracking)
    probation = read_probation(tracker)
    assert probation is not None

    def killed(*_: object) -> None:
        raise SystemExit("killed between the export and the alias move")

    with monkeypatch.context() as patch:
        patch.setattr(type(tracker), "set_champion", killed)
        with pytest.raises(SystemExit):
            roll_back(on_probation, tracker, probation, "test", NOW)
    assert champion_of(on_probation, tracker) == (new, old)  # exported, alias not moved
    first = roll_back(on_probation, tracker, probation, "test", NOW)
    assert first.changed
    assert champion_of(on_probation, tracker) == (old, old)
    second = roll_back(on_probation, tracker, probation, "again", NOW)
    assert not second.changed
    assert "already rolled back" in str(second)
    assert champion_of(on_probation, tracker) == (old, old)
    assert tracker.rollback_reason(new) == "test"


def test_the_gate_never_promotes_a_rolled_back_version_again(on_probation: Settings) -> None:
    """Infrastructure 7: v2, rolled back, is still the candidate and passes every offline check,
    yet the gate refuses it and says why; the restored champion keeps serving."""
    old, new = registered(on_probation)
    tracker = get_tracker(on_probation.tracking)
    probation = read_probation(tracker)
    assert probation is not None
    roll_back(on_probation, tracker, probation, "live quality fell", NOW)
    decision = pipeline.promote(on_probation, tracker)
    assert not decision.promote
    assert decision.reasons == [
        f"v{new} was rolled back (live quality fell): it is never promoted again; "
        "a new training run registers a new version"
    ]
    assert champion_of(on_probation, tracker) == (old, old)


def test_an_error_rate_breach_on_probation_rolls_back(on_probation: Settings) -> None:
    """Monitoring 7: with live quality as good as offline, the API failing one prediction
    request in ten (its /metrics, here a file) breaks the bound and rolls back."""
    old, new = registered(on_probation)
    metrics = on_probation.reports_dir / "metrics.txt"
    metrics.parent.mkdir(parents=True, exist_ok=True)
    metrics.write_text(
        "# TYPE http_requests_total counter\n"
        + "".join(
            "http_requests_total{"
            + f'endpoint="/predict",method="POST",status="{status}"'
            + "} "
            + f"{count}\n"
            for status, count in (("200", 90), ("500", 10))
        ),
        encoding="utf-8",
    )
    bounds = on_probation.monitor.rollback.model_copy(update={"metrics_url": metrics.as_uri()})
    settings = on_probation.model_copy(
        update={"monitor": on_probation.monitor.model_copy(update={"rollback": bounds})}
    )
    summary = check_probation(settings, monitored(new, OFFLINE), PROMOTED + timedelta(days=1))
    assert summary.probation is not None
    assert summary.probation.breaches == ["error rate 10.0% > 5.0%"]
    assert champion_of(settings, get_tracker(settings.tracking)) == (old, old)


def test_the_error_rate_counts_failed_prediction_requests_only() -> None:
    """Monitoring 7: the API's 5xx share of prediction requests, from its /metrics."""
    lines = ["# TYPE http_requests_total counter"]
    for endpoint, status, count in (
        ("/predict", "200", 90),
        ("/predict/batch", "500", 10),
        ("/predict", "422", 100),  # the caller's error: counted, not failed
        ("/health", "503", 50),  # not a prediction
    ):
        labels = f'endpoint="{endpoint}",method="POST",status="{status}"'
        lines.append("http_requests_total{" + labels + "} " + str(count))
    assert error_rate("\n".join(lines)) == pytest.approx(10 / 200)
    assert error_rate("") is None
