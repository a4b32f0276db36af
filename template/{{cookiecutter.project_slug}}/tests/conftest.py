"""Fixtures shared by the four ML Test Score sections: settings pointing at a temporary
workspace, the ingested data and a model trained once per session."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from {{ cookiecutter.project_slug }} import data, model_store
from {{ cookiecutter.project_slug }}.config import ENV_PREFIX, Settings
from {{ cookiecutter.project_slug }}.tracking import local_store_uri
from {{ cookiecutter.project_slug }}.train import TrainedModel, train

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# The tests never reach the network, nor a tracking server configured in the shell.
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")
os.environ.pop("MLFLOW_TRACKING_URI", None)


def workspace_settings(root: Path) -> Settings:
    """Settings for the real raw data with every output under `root`."""
    base = Settings()
    return base.model_copy(
        update={
            "models_dir": root / "models",
            "reports_dir": root / "reports",
            "data": base.data.model_copy(
                update={
                    "raw_path": PROJECT_ROOT / base.data.raw_path,
                    "processed_dir": root / "data" / "processed",
                }
            ),
            "monitor": base.monitor.model_copy(
                update={"reports_dir": root / "reports" / "monitoring"}
            ),
            "serve": base.serve.model_copy(update={"model_dir": root / "models" / "champion"}),
            # The tests' tracker store lives in their workspace, never in the project's own.
            "tracking": base.tracking.model_copy(update={"uri": local_store_uri(root)}),
        }
    )


def workspace_environment(root: Path) -> dict[str, str]:
    """`workspace_settings(root)` as environment variables, for code that reads the settings
    itself (an orchestrator's tasks, a subprocess)."""
    settings = workspace_settings(root)
    return {
        f"{ENV_PREFIX}{name}": str(value)
        for name, value in {
            "DATA__RAW_PATH": settings.data.raw_path,
            "DATA__PROCESSED_DIR": settings.data.processed_dir,
            "MODELS_DIR": settings.models_dir,
            "REPORTS_DIR": settings.reports_dir,
            "MONITOR__REPORTS_DIR": settings.monitor.reports_dir,
            "SERVE__MODEL_DIR": settings.serve.model_dir,
            "TRACKING__URI": settings.tracking.uri,
        }.items()
    }


@pytest.fixture(scope="session")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("workspace")


@pytest.fixture(scope="session")
def settings(workspace: Path) -> Settings:
    return workspace_settings(workspace)


@pytest.fixture(scope="session")
def processed(settings: Settings) -> data.ProcessedPaths:
    return data.ingest(settings.data, settings.seed)


@pytest.fixture(scope="session")
def train_frame(processed: data.ProcessedPaths) -> pd.DataFrame:
    return data.read_processed(processed.train)


@pytest.fixture(scope="session")
def holdout_frame(processed: data.ProcessedPaths) -> pd.DataFrame:
    return data.read_processed(processed.test)


@pytest.fixture(scope="session")
def current_frame(processed: data.ProcessedPaths) -> pd.DataFrame:
    return data.read_processed(processed.current)


@pytest.fixture(scope="session")
def trained(train_frame: pd.DataFrame, settings: Settings) -> TrainedModel:
    return train(train_frame, settings.train, settings.seed, settings.decision)


@pytest.fixture(scope="session")
def champion_dir(trained: TrainedModel, settings: Settings) -> Path:
    """A servable model directory, as the promotion step exports it."""
    metadata = model_store.ModelMetadata(
        name=settings.tracking.model_name,
        version="1",
        run_id="test-run",
        model_type=trained.model_name,
        metrics={"roc_auc": trained.cv_roc_auc_mean},
        hyperparameters=trained.hyperparameters,
    )
    return model_store.save(settings.serve.model_dir, trained.pipeline, metadata)
