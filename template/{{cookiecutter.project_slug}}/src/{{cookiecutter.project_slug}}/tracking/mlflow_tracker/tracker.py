"""Tracking with MLflow: runs in an experiment, model versions in the Model Registry with its
aliases (`champion`, and `challenger` while one is shadowed).

The tracking URI comes from `MLFLOW_TRACKING_URI` when set (a remote server works
unchanged), else from params.yaml `tracking.uri`, else models/mlflow.db (sqlite) with
artifacts in models/mlartifacts/ beside it. `make mlflow-ui` browses it.
"""

from __future__ import annotations

import io
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, redirect_stderr
from pathlib import Path
from typing import Any

import mlflow
import mlflow.sklearn
import pandas as pd
import skops.io  # type: ignore[import-untyped]  # skops ships no type information
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.models import ModelSignature
from mlflow.types import ColSpec, DataType, Schema
from sklearn.pipeline import Pipeline

from ...config import ConfigurationError, TrackingSettings
from ...termination import store_call
from ..base import ModelVersion, Tracker, checked_alias, environment_kept, flatten

SQLITE = "sqlite:///"
ALLOW_DESERIALIZATION = "MLFLOW_ALLOW_PICKLE_DESERIALIZATION"
# Read before this process configures MLflow, which exports the URI it is given to the
# environment: only a URI the user set may override params.yaml.
USER_TRACKING_URI = os.environ.get("MLFLOW_TRACKING_URI")
# MLflow gives its logger a level of its own (INFO) when imported: let it follow the level
# the project's logging sets (config.configure_logging: errors only, all with --verbose).
MLFLOW_LOGGER = logging.getLogger("mlflow")
MLFLOW_LOGGER.setLevel(logging.NOTSET)
# MLflow also exports the URIs it is set to, for subprocesses to inherit: a subprocess
# (an orchestrator's task, another workspace's run) would take them for the user's and
# use this process's store instead of its own params.yaml. The setting stays in-process.
EXPORTED_URIS = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")
ROLLED_BACK = "rolled_back"  # the model version tag that says why monitoring rolled it back
ALIAS_NOTE = "{alias}_note"  # the model version tag holding the note its alias came with
# A version's signed export: artifacts of the run that trained it, a directory per version.
SIGNED = "signed/v{version}"
PROGRESS_BAR = "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"


class MlflowTracker(Tracker):
    @staticmethod
    def local_uri(root: Path) -> str:
        return f"{SQLITE}{root / 'models' / 'mlflow.db'}"

    def __init__(self, settings: TrackingSettings) -> None:
        self.configured_uri = USER_TRACKING_URI or settings.uri
        self.uri = self.configured_uri or self.local_uri(Path())
        self.model_name = settings.model_name
        self.experiment = settings.experiment
        with environment_kept(*EXPORTED_URIS):
            mlflow.set_tracking_uri(self.uri)
            mlflow.set_registry_uri(self.uri)  # the registry lives in the same store
        try:
            self.client = MlflowClient(tracking_uri=self.uri, registry_uri=self.uri)
        except MlflowException as error:  # e.g. a directory: MLflow 3 refuses file stores
            where = "MLFLOW_TRACKING_URI" if USER_TRACKING_URI else "tracking.uri"
            reason = error.message.split(". ")[0]  # MLflow's first sentence: what is wrong
            raise ConfigurationError(
                f"{where} {self.uri!r}: {reason} (MLflow takes a server URL or a database URI, "
                f"e.g. {self.local_uri(Path())})"
            ) from error

    def shared_store(self) -> str | None:
        # A store the user chose (a tracking server, or a database on a volume every run
        # mounts) outlives the run; the project's own models/mlflow.db dies with it.
        if self.configured_uri is None:
            return None
        return self.configured_uri.split("@")[-1]  # no credentials in messages

    @staticmethod
    def shared_store_setup() -> str:
        return (
            "point MLflow at a tracking server: the MLFLOW_TRACKING_URI secret (with "
            "MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD), or params.yaml "
            "`tracking.uri`"
        )

    def _experiment_id(self) -> str:
        experiment = self.client.get_experiment_by_name(self.experiment)
        if experiment is not None:
            return str(experiment.experiment_id)
        artifact_location = None
        if self.uri.startswith(SQLITE):  # keep artifacts beside the local database
            database = Path(self.uri.removeprefix(SQLITE))
            artifact_location = (database.parent / "mlartifacts").resolve().as_uri()
        return str(self.client.create_experiment(self.experiment, artifact_location))

    @contextmanager
    def start_run(self, name: str) -> Iterator[str]:
        status = "FAILED"  # whatever ends the run early, SIGTERM's exit included
        try:
            # Inside the try: SIGTERM's exit follows the creating call, and the run exists.
            with store_call():
                run = mlflow.start_run(experiment_id=self._experiment_id(), run_name=name)
            yield run.info.run_id
            status = "FINISHED"
        finally:
            with store_call():
                mlflow.end_run(status)

    @store_call()
    def log_params(self, params: Mapping[str, Any]) -> None:
        mlflow.log_params({key: str(value) for key, value in flatten(params)})

    @store_call()
    def log_metrics(self, metrics: Mapping[str, float]) -> None:
        mlflow.log_metrics(dict(metrics))

    @store_call()
    def log_artifact(self, path: Path) -> None:
        if path.is_dir():
            mlflow.log_artifacts(str(path), artifact_path=path.name)
        else:
            mlflow.log_artifact(str(path))

    @store_call()
    def register_model(
        self, pipeline: Pipeline, input_example: pd.DataFrame, lineage: Mapping[str, str]
    ) -> ModelVersion:
        run = mlflow.active_run()
        if run is None:  # without this check MLflow would silently open a run of its own
            raise RuntimeError("register_model needs an active run: call it inside start_run")
        with _registration_lines_shown(MLFLOW_LOGGER.isEnabledFor(logging.INFO)):
            info = mlflow.sklearn.log_model(
                pipeline,
                name="model",
                input_example=input_example,
                signature=_signature(input_example),
                registered_model_name=self.model_name,
                # skops refuses types it does not know; these are the ones this very pipeline
                # (built by this project, e.g. its feature functions) is made of.
                skops_trusted_types=skops.io.get_untrusted_types(data=skops.io.dumps(pipeline)),
            )
        number = str(info.registered_model_version)
        # The version's tags carry its lineage (shown on its page in the MLflow UI).
        for key, value in lineage.items():
            self.client.set_model_version_tag(self.model_name, number, f"lineage.{key}", value)
        return ModelVersion(self.model_name, number, run.info.run_id, dict(lineage))

    @store_call()
    def get_version(self, version: str) -> ModelVersion:
        try:
            found = self.client.get_model_version(self.model_name, version)
        except MlflowException as error:
            raise LookupError(f"model {self.model_name!r} has no version {version!r}") from error
        lineage = {
            key.removeprefix("lineage."): value
            for key, value in found.tags.items()
            if key.startswith("lineage.")
        }
        return ModelVersion(self.model_name, str(found.version), str(found.run_id), lineage)

    @store_call()
    def get_alias(self, alias: str) -> ModelVersion | None:
        try:
            model = self.client.get_registered_model(self.model_name)
        except MlflowException as error:
            if error.error_code == "RESOURCE_DOES_NOT_EXIST":  # nothing registered yet
                return None
            raise
        number = model.aliases.get(checked_alias(alias))
        return None if number is None else self.get_version(str(number))

    @store_call()
    def set_alias(self, alias: str, version: ModelVersion, note: str = "") -> None:
        self.get_version(version.version)  # refuses unknown versions with LookupError
        key = ALIAS_NOTE.format(alias=checked_alias(alias))
        # The note first, on the version itself: a crash before the alias moves leaves the
        # alias where it was, its holder's note untouched.
        if note:
            self.client.set_model_version_tag(version.name, version.version, key, note)
        elif key in self.client.get_model_version(version.name, version.version).tags:
            self.client.delete_model_version_tag(version.name, version.version, key)
        self.client.set_registered_model_alias(version.name, alias, version.version)

    @store_call()
    def alias_note(self, alias: str) -> str:
        held = self.get_alias(alias)
        if held is None:
            return ""
        tags = self.client.get_model_version(held.name, held.version).tags
        return str(tags.get(ALIAS_NOTE.format(alias=alias), ""))

    @store_call()
    def remove_alias(self, alias: str) -> None:
        if self.get_alias(alias) is not None:  # MLflow refuses to delete an absent alias
            self.client.delete_registered_model_alias(self.model_name, alias)

    @store_call()
    def load_model(self, version: ModelVersion) -> Pipeline:
        # MLflow refuses to deserialize models unless told the source is trusted. This
        # registry only holds models this project's pipeline registered, so say so, for
        # this call only.
        with _trusted_deserialization():
            pipeline: Pipeline = mlflow.sklearn.load_model(
                f"models:/{version.name}/{version.version}"
            )
        return pipeline

    @store_call()
    def mark_rolled_back(self, version: ModelVersion, reason: str) -> None:
        # A model version tag: shown on the version's page in the MLflow UI.
        self.client.set_model_version_tag(version.name, version.version, ROLLED_BACK, reason)

    @store_call()
    def rollback_reason(self, version: str) -> str | None:
        try:
            found = self.client.get_model_version(self.model_name, version)
        except MlflowException as error:
            raise LookupError(f"model {self.model_name!r} has no version {version!r}") from error
        reason: str | None = found.tags.get(ROLLED_BACK)
        return reason

    @store_call()
    def attach_signed(self, version: ModelVersion, directory: Path) -> None:
        self.get_version(version.version)  # refuses unknown versions
        path = SIGNED.format(version=version.version)
        self.client.log_artifacts(version.run_id, str(directory), path)

    @store_call()
    def get_signed(self, version: ModelVersion, directory: Path) -> bool:
        path = SIGNED.format(version=version.version)
        with tempfile.TemporaryDirectory() as scratch, environment_kept(PROGRESS_BAR):
            os.environ[PROGRESS_BAR] = "false"  # a download's progress bar, for three files
            try:
                downloaded = mlflow.artifacts.download_artifacts(
                    run_id=version.run_id, artifact_path=path, dst_path=scratch
                )
            except (MlflowException, OSError):  # none kept
                return False
            shutil.copytree(downloaded, directory, dirs_exist_ok=True)
        return True


def _signature(example: pd.DataFrame) -> ModelSignature:
    """The model's signature, declared rather than inferred from the example: inferring it
    warns, twice per model, that an integer column cannot hold a missing value. The data
    contract allows none (data/contract.py), so the example's integers are longs here as MLflow
    would infer them; the output is the class label."""
    return ModelSignature(
        inputs=Schema(
            [ColSpec(_column_type(dtype), str(name)) for name, dtype in example.dtypes.items()]
        ),
        outputs=Schema([ColSpec(DataType.long)]),
    )


def _column_type(dtype: Any) -> DataType:
    if pd.api.types.is_bool_dtype(dtype):
        return DataType.boolean
    if pd.api.types.is_integer_dtype(dtype):
        return DataType.long
    if pd.api.types.is_float_dtype(dtype):
        return DataType.double
    return DataType.string


@contextmanager
def _registration_lines_shown(shown: bool) -> Iterator[None]:
    """MLflow prints "Successfully registered model ..." and "Created version ..." straight
    to stderr, bypassing its logger: they are shown only when its INFO logs are. (The
    project's log handlers keep the stderr they were given, so its own lines still show.)"""
    if shown:
        yield
        return
    with redirect_stderr(io.StringIO()):
        yield


@contextmanager
def _trusted_deserialization() -> Iterator[None]:
    previous = os.environ.get(ALLOW_DESERIALIZATION)
    os.environ[ALLOW_DESERIALIZATION] = "true"
    try:
        yield
    finally:
        if previous is None:
            del os.environ[ALLOW_DESERIALIZATION]
        else:
            os.environ[ALLOW_DESERIALIZATION] = previous
