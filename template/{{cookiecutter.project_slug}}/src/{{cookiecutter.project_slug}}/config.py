"""One configuration: params.yaml, overridable by environment variables.

Every tunable of the project lives in params.yaml (DVC tracks it as the pipeline's
parameters). Any value can be overridden without editing the file, e.g.
`{{ cookiecutter.project_slug | upper }}_TRAIN__MODEL=random_forest` or
`{{ cookiecutter.project_slug | upper }}_GATE__MIN_ROC_AUC=0.8`; point
`{{ cookiecutter.project_slug | upper }}_PARAMS` at another YAML file to swap the whole set.

What the data is (its columns, target, derived features, slices and fairness attributes) is
not a tunable: it is the data contract, contract.yaml beside params.yaml (data/contract.py).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, Field, ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from .security import AuthSettings, SignSettings, TrustedSigner

ENV_PREFIX = "{{ cookiecutter.project_slug | upper }}_"
PARAMS_FILE = Path(os.environ.get(f"{ENV_PREFIX}PARAMS", "params.yaml"))
# What the data is (columns, target, derived features, slices): data/contract.py reads it.
CONTRACT_FILE = Path(os.environ.get(f"{ENV_PREFIX}CONTRACT", "contract.yaml"))
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
PACKAGE = __name__.rpartition(".")[0]


def configure_logging(verbose: bool = False) -> None:
    """What a run prints: the project's own log lines from INFO up and, of the libraries it
    uses, errors only. Python warnings become log records (logger "py.warnings") and follow
    the same rule. `verbose` shows everything, the libraries' INFO and DEBUG logs and
    warnings included. Libraries that give their logger a level of their own are handled
    where they are used (e.g. the MLflow adapter, the server)."""
    logging.basicConfig(format=LOG_FORMAT)
    logging.getLogger().setLevel(logging.DEBUG if verbose else logging.ERROR)
    logging.getLogger(PACKAGE).setLevel(logging.DEBUG if verbose else logging.INFO)
    logging.captureWarnings(True)


class DataSettings(BaseModel):
    """Where the data lives and how it is split."""

    raw_path: Path = Field(description="The labelled data set, as contract.yaml describes it.")
    processed_dir: Path = Path("data/processed")
    test_size: float = Field(default=0.2, gt=0, lt=1)
    current_size: float = Field(
        default=0.5, gt=0, lt=1, description="Share of the test split replayed as 'current' data."
    )


class TrainSettings(BaseModel):
    """The model and its search."""

    model: Literal[
        "logistic_regression", "random_forest", "gradient_boosting", "lightgbm", "xgboost"
    ] = "logistic_regression"
    hyperparameters: dict[str, float | int | str | None] = {}
    cv_folds: int = Field(default=5, ge=2)
    tune: bool = False
    n_trials: int = Field(default=20, ge=1)


class ComputeSettings(BaseModel):
    """Where the steps' data-parallel work runs (compute/__init__.py)."""

    engine: str = "local"
    workers: int = Field(default=2, ge=1, description="Data-parallel training workers.")
    concurrent_trials: int = Field(default=2, ge=1, description="Tuning trials run at once.")
    storage: str | None = Field(
        default=None,
        description="Where Ray Train and Tune keep a run's results: a URL every node reaches, "
        "one per run (a bucket prefix; the KubeRay training job sets it). None: a temporary "
        "directory (one machine).",
    )


class GateSettings(BaseModel):
    """What a candidate must achieve to become the champion."""

    min_roc_auc: float = Field(
        default=0.70, ge=0, le=1, description="The floor of a classifier's ROC AUC."
    )
    min_r2: float = Field(default=0.0, le=1, description="The floor of a regressor's R².")
    min_improvement: float = Field(
        default=0.0,
        description="Margin in the task's primary metric over the champion required to "
        "replace it (ROC AUC; for regression, RMSE in the target's unit).",
    )
    max_demographic_parity_difference: dict[str, float] = Field(
        default={},
        description="Largest allowed gap in positive-decision rates between the groups of "
        "each fairness attribute of the contract (data/contract.py checks each has one).",
    )
    min_group_size: int = Field(
        default=20, ge=1, description="Groups with fewer held-out rows are reported, not gated."
    )
    shadow: bool = Field(
        default=False,
        description="A candidate that passes becomes the challenger, scored on live traffic "
        "beside the champion, instead of the champion (monitoring/shadow.py decides later).",
    )
    shadow_min_rows: int = Field(
        default=200, ge=10, description="Labelled live rows both must have scored to decide."
    )
    shadow_margin: float = Field(
        default=0.0,
        ge=0,
        description="How much better on live rows (the task's live metric) the challenger "
        "must be to replace the champion, its bootstrap interval clear of zero.",
    )
    max_latency_ratio: float = Field(
        default=1.5,
        gt=0,
        description="How many times the champion's serving time the candidate may take (one "
        "applicant, and a batch), measured side by side (serving/cost.py).",
    )


class RollbackSettings(BaseModel):
    """Probation after a promotion: the bounds a new champion's live traffic must hold, or
    monitoring restores the previous champion (registry/rollback.py)."""

    probation_days: float = Field(
        default=7.0, ge=0, description="How long after its promotion a champion is on probation."
    )
    max_error_rate: float = Field(
        default=0.05, ge=0, le=1, description="Largest share of the API's requests that fail."
    )
    max_quality_drop: float = Field(
        default=0.10,
        ge=0,
        description="Largest fall of live quality below the offline figure (the task's live "
        "metric; relative for an error in the target's unit).",
    )
    max_estimated_quality_drop: float | None = Field(
        default=None,
        ge=0,
        description="The same bound on quality estimated before labels arrive, when the monitor "
        "estimates it (None: not judged).",
    )
    metrics_url: str | None = Field(
        default=None,
        description="The API's Prometheus endpoint (e.g. http://127.0.0.1:8000/metrics): its "
        "prediction requests that failed (5xx) give the error rate (None: not judged).",
    )


class MonitorSettings(BaseModel):
    """When drift counts as drift."""

    drift_share_threshold: float = Field(
        default=0.3, gt=0, le=1, description="Share of drifted columns that triggers an alert."
    )
    column_drift_threshold: float = Field(
        default=0.05, gt=0, lt=1, description="p-value below which a column has drifted."
    )
    max_quality_drop: float = Field(
        default=0.05,
        ge=0,
        le=1,
        description="Largest acceptable fall of ROC AUC on a labelled batch below the offline one.",
    )
    max_model_age_days: int = Field(
        default=90, ge=1, description="Age after which the champion is stale and retrained."
    )
    reports_dir: Path = Path("reports/monitoring")
    alert_webhook: str | None = Field(
        default=None, description="URL that receives the drift summary as JSON when it fires."
    )
    rollback: RollbackSettings = RollbackSettings()
    max_estimated_quality_drop: float = Field(
        default=0.05,
        ge=0,
        le=1,
        description="Largest acceptable fall of the quality estimated from the served "
        "probabilities (before labels, monitoring/estimate.py) below the offline one.",
    )
    max_calibration_error: float = Field(
        default=0.1,
        ge=0,
        le=1,
        description="Largest cross-validated expected calibration error at which the estimate is "
        "trusted: beyond it the monitor reports the estimate as unreliable and acts on none.",
    )


class ServeSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    model_dir: Path = Path("models/champion")
    auth: AuthSettings = AuthSettings()
    trusted_signers: list[TrustedSigner] = Field(
        default=[TrustedSigner(public_key=Path("keys/model-signing.pub"))],
        min_length=1,
        description="Who may sign a model that is loaded: any one of them.",
    )
    instance_cost_per_hour: float | None = Field(
        default=None,
        ge=0,
        description="What an hour of one serving instance costs: gives the cost per million "
        "predictions from the measured throughput (None: not reported).",
    )


class ScoreSettings(BaseModel):
    """Batch scoring (`score`, serving/batch.py) and its scheduled run (pipeline.score_batch)."""

    chunk_rows: int = Field(
        default=10_000, ge=1, description="Rows read, validated and scored at a time."
    )
    input: str = Field(
        default="data/processed/current.parquet",
        description="What the scheduled run scores: a path or fsspec URL; {date} is its day.",
    )
    output: str = Field(
        default="reports/scores/{date}.parquet",
        description="Where its scores go (Parquet): a path or fsspec URL; {date} is its day.",
    )

    def for_day(self, day: date) -> tuple[str, str]:
        """`input` and `output` with {date} filled in (ISO, e.g. 2026-12-04)."""
        iso = day.isoformat()
        return self.input.replace("{date}", iso), self.output.replace("{date}", iso)


class InferenceLogSettings(BaseModel):
    """Where the API records its predictions (serving/inference_log.py) and what it leaves out."""

    enabled: bool = True
    url: str = Field(default="logs/inference", description="A local directory or any fsspec URL.")
    drop: list[str] = Field(default=[], description="Model inputs never written.")
    hash: list[str] = Field(default=[], description="Model inputs written as a salted hash.")
    hash_salt: str = Field(default="", description="Salt of the hashes; set it in the environment.")
    flush_seconds: float = Field(default=1.0, gt=0, description="How often the log is written.")
    window_days: float = Field(
        default=1.0, gt=0, description="How far back `monitor` reads the log."
    )
    min_rows: int = Field(
        default=100, ge=1, description="Fewer logged predictions than this are not tested."
    )


class TrackingSettings(BaseModel):
    experiment: str = "{{ cookiecutter.project_slug }}"
    model_name: str = "{{ cookiecutter.project_slug }}"
    uri: str | None = Field(
        default=None,
        description="Where the tracker keeps runs and model versions; None: its local store "
        "in the project directory (see the tracker's README).",
    )


def _under(root: Path, url: str) -> str:
    """A relative local path moved under `root`; a URL or an absolute path as it is."""
    return url if "://" in url or Path(url).is_absolute() else str(root / url)


class Settings(BaseSettings):
    """All settings; see params.yaml for the values in use."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        yaml_file=PARAMS_FILE,
        extra="forbid",
    )

    seed: int = 42
    models_dir: Path = Path("models")
    reports_dir: Path = Path("reports")
    data: DataSettings
    train: TrainSettings = TrainSettings()
    compute: ComputeSettings = ComputeSettings()
    gate: GateSettings = GateSettings()
    monitor: MonitorSettings = MonitorSettings()
    serve: ServeSettings = ServeSettings()
    sign: SignSettings = SignSettings()
    score: ScoreSettings = ScoreSettings()
    inference_log: InferenceLogSettings = InferenceLogSettings()
    tracking: TrackingSettings = TrackingSettings()

    def under(self, root: Path, *, tracking_uri: str, raw_path: Path | None = None) -> Settings:
        """These settings with every file they make (splits, models, reports, the inference
        log, the tracker's store at `tracking_uri`) under `root`: a scratch workspace for
        the simulation and the tests. The raw data is read from `raw_path` if given."""
        return self.model_copy(
            update={
                "models_dir": root / "models",
                "reports_dir": root / "reports",
                "data": self.data.model_copy(
                    update={
                        "raw_path": raw_path or self.data.raw_path,
                        "processed_dir": root / "data" / "processed",
                    }
                ),
                "monitor": self.monitor.model_copy(
                    update={"reports_dir": root / "reports" / "monitoring"}
                ),
                "serve": self.serve.model_copy(update={"model_dir": root / "models" / "champion"}),
                "score": self.score.model_copy(
                    update={
                        "input": _under(root, self.score.input),
                        "output": _under(root, self.score.output),
                    }
                ),
                "inference_log": self.inference_log.model_copy(
                    update={"url": str(root / "logs" / "inference")}
                ),
                "tracking": self.tracking.model_copy(update={"uri": tracking_uri}),
            }
        )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Explicit arguments win, then the environment, then params.yaml.
        return init_settings, env_settings, YamlConfigSettingsSource(settings_cls)


class ConfigurationError(ValueError):
    """A setting is invalid; the message is one line naming the file (or the environment
    variable) and the key."""


@cache
def get_settings() -> Settings:
    """The settings of this process (read once); raises ConfigurationError."""
    try:
        return Settings()
    except ValidationError as error:
        problems = (_describe(problem, os.environ) for problem in error.errors())
        raise ConfigurationError("; ".join(problems)) from error
    except yaml.YAMLError as error:
        where = getattr(error, "problem_mark", None)
        line = f" (line {where.line + 1})" if where is not None else ""
        raise ConfigurationError(f"{PARAMS_FILE}{line}: not valid YAML") from error


def _describe(problem: Mapping[str, Any], environment: Mapping[str, str]) -> str:
    """One validation problem as `<where>: <key>: <what is wrong> (got <value>)`, where is
    the environment variable that set the key, if one did, else params.yaml."""
    location = [str(part) for part in problem["loc"]]
    key = ".".join(location)
    message = str(problem["msg"]).removeprefix("Value error, ")
    given = problem.get("input")
    got = f" (got {given!r})" if isinstance(given, str | int | float | bool) else ""
    if problem["type"] == "extra_forbidden":
        return f"{PARAMS_FILE}: {key}: unknown key (config.py lists the settings)"
    names = {name.upper() for name in environment}  # the variables' names ignore case
    for depth in range(len(location), 0, -1):  # `A__B` sets a.b; `A` sets a, as JSON
        variable = f"{ENV_PREFIX}{'__'.join(location[:depth])}".upper()
        if variable in names:
            return f"{variable}: {key}: {message}{got}"
    return f"{PARAMS_FILE}: {key}: {message}{got}" if key else f"{PARAMS_FILE}: {message}"
