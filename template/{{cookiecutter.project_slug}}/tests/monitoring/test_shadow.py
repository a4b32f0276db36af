"""Model 2: the shadow challenger is judged on live traffic with its outcomes. The API
answers with the champion and logs both models' scores; `monitor` compares them on the same
labelled rows and promotes the challenger, retires it, keeps waiting, or does nothing on too
few rows."""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sklearn.preprocessing import FunctionTransformer

from {{ cookiecutter.project_slug }}.config import InferenceLogSettings, Settings
from {{ cookiecutter.project_slug }}.data.contract import MODEL_INPUTS, TARGET
from {{ cookiecutter.project_slug }}.monitoring import shadow, traffic
from {{ cookiecutter.project_slug }}.registry import model_store
from {{ cookiecutter.project_slug }}.registry.champion import challenger_dir, export_champion, sign
from {{ cookiecutter.project_slug }}.registry.rollback import read_probation
from {{ cookiecutter.project_slug }}.serving import inference_log as log
from {{ cookiecutter.project_slug }}.serving.app import create_app
from {{ cookiecutter.project_slug }}.tasks import TASK
from {{ cookiecutter.project_slug }}.tracking import CHALLENGER, CHAMPION, ModelVersion, Tracker
from {{ cookiecutter.project_slug }}.training.train import (
    TrainedModel,
    build_pipeline,
    features_and_target,
)

from ..conftest import export_signed
from ..contract_cases import answered

pytestmark = pytest.mark.monitoring


def challenger_model(settings: Settings, train_frame: pd.DataFrame, broken: bool = False) -> Any:
    """Another model than the champion: the same kind, fitted on half the training rows;
    `broken`, one that fits but raises on every request (any rows but those it was fitted on)."""
    half = train_frame.iloc[: len(train_frame) // 2]
    model = build_pipeline(settings.train.model, {}, settings.seed)
    if broken:
        breaks = FunctionTransformer(fails_on_requests, kw_args={"fitted_rows": len(half)})
        model.steps.insert(0, ("breaks", breaks))
    return model.fit(*features_and_target(half))


def fails_on_requests(frame: pd.DataFrame, fitted_rows: int) -> pd.DataFrame:
    """Passes the rows it is fitted on through; raises on anything else (a request's rows
    are fewer: `serve` sends the held-out rows in two batches)."""
    if len(frame) != fitted_rows:
        raise ValueError("the challenger is broken")
    return frame


def serve(champion: Path, challenger: Path, url: str, rows: pd.DataFrame) -> list[Any]:
    """Serve `rows` in two batches; the answers' values."""
    inference_log = log.InferenceLog(InferenceLogSettings(url=url))
    with TestClient(create_app(champion, inference_log, challenger_dir=challenger)) as client:
        answers = []
        for i in (0, len(rows) // 2):
            chunk = rows.iloc[i : i + len(rows) // 2][list(MODEL_INPUTS)]
            response = client.post(
                "/predict/batch",
                json={"instances": chunk.to_dict("records")},
                headers={"X-Request-ID": f"r{i}"},
            )
            assert response.status_code == 200, response.text
            answers += [answered(p) for p in response.json()["predictions"]]
    return answers


def test_the_api_answers_with_the_champion_and_logs_both(
    settings: Settings,
    champion_dir: Path,
    train_frame: pd.DataFrame,
    holdout_frame: pd.DataFrame,
    tmp_path: Path,
) -> None:
    """Model 2: with a challenger beside the champion, every answer is the champion's, and
    the inference log holds both models' scores and versions for each row."""
    other = challenger_model(settings, train_frame)
    metadata = model_store.ModelMetadata(name="m", version="2", run_id="r", model_type="x")
    export_signed(tmp_path / "challenger", other, metadata)
    rows = holdout_frame.head(40)
    start = datetime.now(UTC)
    answers = serve(champion_dir, tmp_path / "challenger", str(tmp_path / "log"), rows)
    champion_model, _ = model_store.load(champion_dir, signers=None)
    ours = TASK.served_value(model_store.predict_output(champion_model, rows))
    theirs = TASK.served_value(model_store.predict_output(other, rows))
    assert not np.allclose(ours, theirs), "the challenger must differ for the test to tell"

    answered_values = np.asarray(answers, dtype=float)
    if answered_values.ndim == 2:  # multiclass: the decided class's probability is logged
        answered_values = answered_values.max(axis=1)
    np.testing.assert_allclose(answered_values, ours, atol=1e-6)
    logged = log.read_window(str(tmp_path / "log"), start, datetime.now(UTC) + timedelta(1))
    assert len(logged) == len(rows)
    assert (logged["model_version"].astype(str) == "1").all()
    assert (logged[log.CHALLENGER_VERSION].astype(str) == "2").all()
    np.testing.assert_allclose(logged[log.SERVED_VALUE].to_numpy(float), ours, atol=1e-6)
    np.testing.assert_allclose(logged[log.CHALLENGER_VALUE].to_numpy(float), theirs, atol=1e-6)


def test_a_failing_challenger_never_fails_a_request(
    settings: Settings,
    champion_dir: Path,
    train_frame: pd.DataFrame,
    holdout_frame: pd.DataFrame,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Model 2: a challenger that cannot score (it raises) costs its own scores, said once in
    the log, and never an answer or the champion's log."""
    broken = challenger_model(settings, train_frame, broken=True)
    metadata = model_store.ModelMetadata(name="m", version="2", run_id="r", model_type="x")
    export_signed(tmp_path / "challenger", broken, metadata)
    rows = holdout_frame.head(40)
    start = datetime.now(UTC)
    with caplog.at_level(logging.ERROR):
        answers = serve(champion_dir, tmp_path / "challenger", str(tmp_path / "log"), rows)
    assert len(answers) == len(rows)
    said = [m for m in caplog.messages if "challenger v2 cannot score" in m]
    assert len(said) == 1, said
    logged = log.read_window(str(tmp_path / "log"), start, datetime.now(UTC) + timedelta(1))
    assert len(logged) == len(rows)
    assert log.CHALLENGER_VALUE not in logged.columns


def logged_rows(
    holdout: pd.DataFrame,
    champion: Any,
    challenger: Any,
    versions: tuple[str, str],
    shuffle: str = "",
) -> pd.DataFrame:
    """The labelled log of the held-out rows as the API writes it, each scored by both
    models; `shuffle` ("champion" or "challenger") shuffles that model's scores across rows,
    making it no better than chance."""
    frame = pd.DataFrame(
        {
            "model_version": versions[0],
            log.CHALLENGER_VERSION: versions[1],
            TARGET.name: holdout[TARGET.name].to_numpy(),
        }
    )
    order = np.random.default_rng(0).permutation(len(holdout))
    for model, value, label, name in (
        (champion, log.SERVED_VALUE, log.SERVED_LABEL, "champion"),
        (challenger, log.CHALLENGER_VALUE, log.CHALLENGER_LABEL, "challenger"),
    ):
        output = model_store.predict_output(model, holdout)
        decided = TASK.decide(output, model_store.threshold_of(model))
        scores = TASK.served_value(output)
        if shuffle == name:
            scores, decided = scores[order], np.asarray(decided)[order]
        frame[value], frame[label] = scores, decided
    return frame


class Registry:
    """The tracker as the shadow's verdict uses it (monitoring/shadow.py `act`), in memory:
    two versions of one model, its aliases (and their notes) and the runs it records. Each
    adapter's aliases are tested with the real tracker (infrastructure/test_pipeline.py)."""

    def __init__(self, model: Any, root: Path) -> None:
        self.model = model
        self.root = root  # where it keeps signed exports
        self.aliases: dict[str, str] = {}
        self.notes: dict[str, str] = {}
        self.signed: dict[str, Path] = {}
        self.runs: list[dict[str, Any]] = []

    def get_version(self, version: str) -> ModelVersion:
        if version not in ("1", "2"):
            raise LookupError(version)
        return ModelVersion("m", version, f"run-{version}")

    def load_model(self, version: ModelVersion) -> Any:
        return self.model

    def get_alias(self, alias: str) -> ModelVersion | None:
        return self.get_version(self.aliases[alias]) if alias in self.aliases else None

    def set_alias(self, alias: str, version: ModelVersion, note: str = "") -> None:
        self.aliases[alias] = self.get_version(version.version).version
        self.notes[alias] = note

    def attach_signed(self, version: ModelVersion, directory: Path) -> None:
        kept = self.root / version.version
        shutil.copytree(directory, kept, dirs_exist_ok=True)
        self.signed[version.version] = kept

    def get_signed(self, version: ModelVersion, directory: Path) -> bool:
        if version.version not in self.signed:
            return False
        shutil.copytree(self.signed[version.version], directory, dirs_exist_ok=True)
        return True

    def alias_note(self, alias: str) -> str:
        return self.notes.get(alias, "") if alias in self.aliases else ""

    def remove_alias(self, alias: str) -> None:
        self.aliases.pop(alias, None)

    def get_champion(self) -> ModelVersion | None:
        return self.get_alias(CHAMPION)

    def set_champion(self, version: ModelVersion, note: str = "") -> None:
        self.set_alias(CHAMPION, version, note)

    @contextmanager
    def start_run(self, name: str) -> Iterator[str]:
        self.runs.append({"name": name})
        yield name

    def log_params(self, params: Mapping[str, Any]) -> None:
        self.runs[-1]["params"] = params

    def log_metrics(self, metrics: Mapping[str, float]) -> None:
        self.runs[-1]["metrics"] = metrics


def judged_on_all(settings: Settings, holdout: pd.DataFrame) -> Settings:
    """`settings` deciding on as many labelled rows as the held-out set has: a small
    dataset's are fewer than params.yaml's gate.shadow_min_rows."""
    gate = settings.gate.model_copy(update={"shadow_min_rows": len(holdout)})
    return settings.model_copy(update={"gate": gate})


@pytest.fixture
def shadowed(
    fresh_workspace: Settings,
    trained: TrainedModel,
    holdout_frame: pd.DataFrame,
    monkeypatch: pytest.MonkeyPatch,
) -> tuple[Settings, Registry]:
    """A workspace serving champion v1 with challenger v2 beside it (the session's model
    twice), as the registry names them."""
    settings = judged_on_all(fresh_workspace, holdout_frame)
    registry = Registry(trained.pipeline, fresh_workspace.models_dir / "registry")
    monkeypatch.setattr(shadow, "get_tracker", lambda _: registry)
    first, second = registry.get_version("1"), registry.get_version("2")
    for version, alias in ((first, CHAMPION), (second, CHALLENGER)):  # as CT promoted them
        sign(settings, cast(Tracker, registry), version, alias, datetime.now(UTC))
    export_champion(settings, cast(Tracker, registry), first)
    registry.set_champion(first)
    export_champion(settings, cast(Tracker, registry), second, challenger_dir(settings))
    registry.set_alias(CHALLENGER, second)
    return settings, registry


def decision(settings: Settings) -> dict[str, Any]:
    record: dict[str, Any] = json.loads((settings.reports_dir / "promotion.json").read_text())
    return record


def test_a_challenger_that_wins_on_live_rows_is_promoted(
    shadowed: tuple[Settings, Registry],
    trained: TrainedModel,
    holdout_frame: pd.DataFrame,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Model 2: a challenger clearly better on the same labelled live rows becomes the
    champion: alias, served directory (the API hot-swaps it; the metadata it was judged
    with, so live quality is still checked against its cross-validated figure), its
    probation in the registry, promotion.json, tracker and webhook."""
    settings, tracker = shadowed
    champion, challenger = "1", "2"
    sent: list[str] = []
    monkeypatch.setattr(shadow, "notify", lambda body, *_: sent.append(body))
    model = trained.pipeline
    logged = logged_rows(holdout_frame, model, model, (champion, challenger), "champion")
    _, judged = model_store.load(challenger_dir(settings), settings.serve.trusted_signers)
    verdict = shadow.judge_challenger(logged, settings)
    assert verdict is not None
    assert verdict.verdict == "promote", verdict.reasons
    assert verdict.quality is not None
    assert verdict.quality.low > 0
    crowned = tracker.get_champion()
    assert crowned is not None
    assert crowned.version == challenger
    probation = read_probation(cast(Tracker, tracker))
    assert probation is not None
    assert (probation.version, probation.previous) == (challenger, champion)
    assert tracker.get_alias(CHALLENGER) is None
    _, served = model_store.load(settings.serve.model_dir, settings.serve.trusted_signers)
    assert served.version == challenger
    assert served.trained_at == judged.trained_at  # the challenger's own export, metrics and all
    assert not challenger_dir(settings).exists()
    assert decision(settings)["verdict"] == "promote"
    assert decision(settings)["promote"] is True
    assert len(sent) == 1
    assert '"promote"' in sent[0]
    assert tracker.runs[-1]["params"]["shadow"]["verdict"] == "promote"


def test_a_challenger_that_loses_on_live_rows_is_retired(
    shadowed: tuple[Settings, Registry],
    trained: TrainedModel,
    holdout_frame: pd.DataFrame,
) -> None:
    """Model 2: a challenger clearly worse on the same labelled live rows is retired (its
    alias and directory go) and the champion stays."""
    settings, tracker = shadowed
    champion, challenger = "1", "2"
    model = trained.pipeline
    logged = logged_rows(holdout_frame, model, model, (champion, challenger), "challenger")
    verdict = shadow.judge_challenger(logged, settings)
    assert verdict is not None
    assert verdict.verdict == "retire", verdict.reasons
    kept = tracker.get_champion()
    assert kept is not None
    assert kept.version == champion
    assert tracker.get_alias(CHALLENGER) is None
    assert model_store.current_version(settings.serve.model_dir) == champion
    assert not challenger_dir(settings).exists()
    assert decision(settings)["verdict"] == "retire"
    assert decision(settings)["promote"] is False


def test_a_tie_waits_and_too_few_rows_change_nothing(
    settings: Settings, trained: TrainedModel, holdout_frame: pd.DataFrame, tmp_path: Path
) -> None:
    """Model 2: the same scores from both (a tie) keep waiting; fewer labelled rows than
    gate.shadow_min_rows decide nothing and record nothing."""
    tie = logged_rows(holdout_frame, trained.pipeline, trained.pipeline, ("1", "2"))
    waiting = shadow.compare(tie, judged_on_all(settings, holdout_frame), "1", "2")
    assert waiting.verdict == "wait", waiting.reasons
    assert waiting.quality is not None
    labels = holdout_frame[TARGET.name].to_numpy()
    output = model_store.predict_output(trained.pipeline, holdout_frame)
    decided = TASK.decide(output, model_store.threshold_of(trained.pipeline))
    live = TASK.live_quality(labels, TASK.served_value(output), decided)
    assert waiting.quality.champion == pytest.approx(live)  # the task's own live metric
    better = logged_rows(holdout_frame, trained.pipeline, trained.pipeline, ("1", "2"), "champion")
    thin = settings.model_copy(
        update={
            "gate": settings.gate.model_copy(update={"shadow_min_rows": len(holdout_frame) + 1}),
            "reports_dir": tmp_path / "reports",
        }
    )
    verdict = shadow.compare(better, thin, "1", "2")
    assert verdict.verdict == "too few rows", verdict.reasons
    shadow.act(verdict, thin)
    assert not (tmp_path / "reports").exists()


def test_a_fresh_runners_monitor_judges_the_registrys_challenger(
    shadowed: tuple[Settings, Registry], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Model 2: `monitor` on a fresh CI runner or an orchestrator's pod (no challenger on
    its disk) judges the challenger the registry names: it is exported before the logged
    traffic is monitored, and once the registry has none, a stale export goes."""
    settings, registry = shadowed
    shutil.rmtree(challenger_dir(settings))
    monkeypatch.setattr(traffic, "get_tracker", lambda _: registry)
    judged: list[str | None] = []
    monkeypatch.setattr(
        traffic,
        "monitor_traffic",
        lambda s: judged.append(model_store.current_version(challenger_dir(s))),
    )
    traffic.monitor_logged_traffic(settings)
    registry.remove_alias(CHALLENGER)
    traffic.monitor_logged_traffic(settings)
    assert judged == ["2", None]
