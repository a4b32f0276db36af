"""Tracking with Weights & Biases: runs in a W&B project, model versions as W&B model
artifacts, the champion and the shadow challenger as artifact aliases (`champion`,
`challenger`).

Online (WANDB_API_KEY set, or WANDB_MODE=online) W&B is the registry: versions are the
artifact's versions (`v0`, `v1`, ...; this project calls them "0", "1", ...) and the alias
moves on the server; every alias the gate gives is also linked into the organisation's
W&B Registry (the Model registry's collection named after the model), and every model the
project reads back is a `use_artifact` input of a run, so W&B's lineage links the runs
that consumed a version to the run that trained it.

Offline (the default without a key) W&B writes runs to `<tracking.uri>/wandb/offline-run-*`
for `wandb sync`, but cannot read artifacts back (`use_artifact` refuses offline runs), so
the adapter keeps every version it logs in a local registry beside them,
`wandb/registry/<model>/<version>/`, numbered as W&B numbers them once synced, and reads
versions and aliases from there (a file per alias holding its version). Offline, removing
an alias removes it from the local registry only: an offline run can give a version an
alias, not take one away, so the synced project keeps it until it is removed online. See
README.md.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import joblib
import pandas as pd
import wandb
from sklearn.pipeline import Pipeline
from wandb.errors import CommError

from ...config import TrackingSettings
from ..base import ModelVersion, Tracker, checked_alias, copy_kept, environment_kept, keep_copy

MODEL_FILE = "model.joblib"
VERSION_FILE = "version.json"  # the run and lineage: also makes every version's content unique
ARTIFACT_TYPE = "model"
FIGURE_SUFFIXES = {".png", ".jpg", ".jpeg", ".svg"}
SERVICE_ADDRESS = "WANDB_SERVICE"
ROLLED_BACK = "rolled_back"  # the metadata key (offline: the file) saying why it was rolled back
ROLLED_BACK_ALIAS = "rolled-back-v{version}"  # an alias names one version: this one's own
ALIAS_NOTE = "{alias}_note"  # the metadata key (offline: the file) of the note an alias came with
SIGNED = "signed"  # offline: a version's directory holding its signed export
SIGNED_ARTIFACT = "{model}-signed"  # online: the artifact of signed exports, by alias
SIGNED_ALIAS = "model-v{version}"  # W&B reserves v<N> for its own version numbers
# Every W&B organisation has the Model registry; its collection of this model holds the
# versions the gate promoted, with their aliases.
REGISTRY_COLLECTION = "wandb-registry-model/{model}"


def mode() -> str:
    """WANDB_MODE when set; otherwise online with an API key, offline without one."""
    return os.environ.get("WANDB_MODE") or (
        "online" if os.environ.get("WANDB_API_KEY") else "offline"
    )


class WandbTracker(Tracker):
    @staticmethod
    def local_uri(root: Path) -> str:
        return str(root / "models")  # W&B writes its `wandb/` directory in here

    def __init__(self, settings: TrackingSettings) -> None:
        self.dir = Path(settings.uri or self.local_uri(Path()))
        self.project = settings.experiment
        self.model_name = settings.model_name
        self.online = mode() == "online"
        self.registry = self.dir / "wandb" / "registry" / self.model_name  # offline only
        self.collection = REGISTRY_COLLECTION.format(model=self.model_name)  # online only
        self._run: Any = None

    def shared_store(self) -> str | None:
        if not self.online:
            return None
        return f"the W&B project {self.project} (promoted versions: Registry {self.collection})"

    @staticmethod
    def shared_store_setup() -> str:
        return "give the run a W&B account: the WANDB_API_KEY secret (W&B is then online)"

    def _init(self, job_type: str, name: str | None = None) -> Any:
        self.dir.mkdir(parents=True, exist_ok=True)
        # W&B exports its service's address for subprocesses to attach to: one started
        # later (an orchestrator's task) would log through this process's service.
        with environment_kept(SERVICE_ADDRESS):
            return wandb.init(
                project=self.project,
                dir=self.dir,
                mode="online" if self.online else "offline",
                job_type=job_type,
                name=name,
                settings=wandb.Settings(silent=True, console="off", x_disable_stats=True),
            )

    @property
    def run(self) -> Any:
        if self._run is None:
            raise RuntimeError("no active run: call inside `with tracker.start_run(...)`")
        return self._run

    @contextmanager
    def start_run(self, name: str) -> Iterator[str]:
        with self._init("train", name) as run:
            self._run = run
            try:
                yield str(run.id)
            finally:
                self._run = None

    def log_params(self, params: Mapping[str, Any]) -> None:
        self.run.config.update(dict(params), allow_val_change=True)

    def log_metrics(self, metrics: Mapping[str, float]) -> None:
        self.run.summary.update(dict(metrics))  # final evaluation figures, not a series

    def log_artifact(self, path: Path) -> None:
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        base = path.parent
        images = {
            f"{base.name}/{p.relative_to(base).with_suffix('').as_posix()}": wandb.Image(str(p))
            for p in files
            if p.suffix in FIGURE_SUFFIXES
        }
        if images:
            self.run.log(images)
        for file in files:
            if file.suffix not in FIGURE_SUFFIXES:
                # Copied into the run's directory first: W&B syncs it from there, and prints
                # a warning for each file it links in itself.
                target = Path(self.run.dir) / file.relative_to(base)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(file, target)
                self.run.save(str(target), base_path=self.run.dir, policy="now")

    # ---- the registry ------------------------------------------------------------------

    def _artifact(self, directory: Path, record: Mapping[str, Any]) -> wandb.Artifact:
        artifact = wandb.Artifact(self.model_name, type=ARTIFACT_TYPE, metadata=dict(record))
        artifact.add_file(str(directory / MODEL_FILE))
        artifact.add_file(str(directory / VERSION_FILE))
        return artifact

    def _local_versions(self) -> list[int]:
        if not self.registry.is_dir():
            return []
        return sorted(int(p.name) for p in self.registry.iterdir() if p.name.isdigit())

    def register_model(
        self, pipeline: Pipeline, input_example: pd.DataFrame, lineage: Mapping[str, str]
    ) -> ModelVersion:
        record: dict[str, Any] = {
            "run_id": str(self.run.id),
            "inputs": list(input_example.columns),
            "lineage": dict(lineage),
        }
        if self.online:
            with tempfile.TemporaryDirectory() as staging:
                directory = _write(Path(staging), pipeline, record)
                artifact = self.run.log_artifact(self._artifact(directory, record)).wait()
            number = str(artifact.version).removeprefix("v")
        else:
            number = str(max(self._local_versions(), default=-1) + 1)
            directory = _write(self.registry / number, pipeline, record)
            self.run.log_artifact(self._artifact(directory, record))  # uploaded by `wandb sync`
        return ModelVersion(self.model_name, number, record["run_id"], dict(lineage))

    def _remote(self, alias: str, collection: str | None = None) -> wandb.Artifact:
        name = f"{collection or f'{self.project}/{self.model_name}'}:{alias}"
        try:
            artifact: wandb.Artifact = wandb.Api().artifact(name, type=ARTIFACT_TYPE)
        except CommError as error:
            raise LookupError(f"model {self.model_name!r} has no version {alias!r}") from error
        return artifact

    def _use(self, artifact: wandb.Artifact, job_type: str, root: str) -> None:
        """Download a logged artifact as an input of the open run (else of a run of
        `job_type`), so that W&B's lineage links the run to what it consumed."""
        if self._run is not None:
            self._run.use_artifact(artifact).download(root=root)
            return
        with self._init(job_type) as run:
            run.use_artifact(artifact).download(root=root)

    def get_version(self, version: str) -> ModelVersion:
        if self.online:
            record = self._remote(f"v{version}").metadata
        else:
            path = self.registry / version / VERSION_FILE
            if not path.is_file():
                raise LookupError(f"model {self.model_name!r} has no version {version!r}")
            record = json.loads(path.read_text(encoding="utf-8"))
        return ModelVersion(self.model_name, version, record["run_id"], record["lineage"])

    def get_alias(self, alias: str) -> ModelVersion | None:
        if self.online:
            try:
                version = str(self._remote(checked_alias(alias)).version).removeprefix("v")
            except LookupError:
                return None
            return self.get_version(version)
        pointer = self.registry / checked_alias(alias)
        if not pointer.is_file():
            return None
        return self.get_version(pointer.read_text(encoding="utf-8").strip())

    def set_alias(self, alias: str, version: ModelVersion, note: str = "") -> None:
        self.get_version(version.version)  # refuses unknown versions
        key = ALIAS_NOTE.format(alias=checked_alias(alias))
        if self.online:  # the note and the alias in one save
            artifact = self._remote(f"v{version.version}")
            if note:
                artifact.metadata[key] = note
            else:
                artifact.metadata.pop(key, None)
            artifact.aliases.append(alias)  # W&B moves an alias: one holds it
            artifact.save()
            artifact.link(self.collection, aliases=[alias])  # the Registry moves it too
            return
        path = self.registry / version.version / key  # first: the pointer moves the alias
        if note:
            path.write_text(note, encoding="utf-8")
        else:
            path.unlink(missing_ok=True)
        # Logging the same files again adds no version (W&B deduplicates by content) but
        # gives the existing one the alias once synced, so the synced project agrees with
        # the local registry.
        directory = self.registry / version.version
        record = json.loads((directory / VERSION_FILE).read_text(encoding="utf-8"))
        with self._init("promote") as run:
            run.log_artifact(self._artifact(directory, record), aliases=[checked_alias(alias)])
        (self.registry / alias).write_text(version.version, encoding="utf-8")

    def alias_note(self, alias: str) -> str:
        key = ALIAS_NOTE.format(alias=checked_alias(alias))
        if self.online:
            try:
                return str(self._remote(alias).metadata.get(key, ""))
            except LookupError:
                return ""
        held = self.get_alias(alias)
        path = None if held is None else self.registry / held.version / key
        return path.read_text(encoding="utf-8") if path and path.is_file() else ""

    def remove_alias(self, alias: str) -> None:
        if not self.online:
            (self.registry / checked_alias(alias)).unlink(missing_ok=True)
            return
        for collection in (None, self.collection):  # the project's alias, the Registry's
            try:
                artifact = self._remote(checked_alias(alias), collection)
            except LookupError:
                continue
            artifact.aliases.remove(alias)
            artifact.save()

    def load_model(self, version: ModelVersion) -> Pipeline:
        if self.online:
            with tempfile.TemporaryDirectory() as target:
                self._use(self._remote(f"v{version.version}"), "load-model", target)
                pipeline: Pipeline = joblib.load(Path(target) / MODEL_FILE)
            return pipeline
        loaded: Pipeline = joblib.load(self.registry / version.version / MODEL_FILE)
        return loaded

    def mark_rolled_back(self, version: ModelVersion, reason: str) -> None:
        self.get_version(version.version)  # refuses unknown versions
        if self.online:  # the artifact version's metadata, and an alias the UI lists
            artifact = self._remote(f"v{version.version}")
            artifact.metadata[ROLLED_BACK] = reason
            artifact.aliases.append(ROLLED_BACK_ALIAS.format(version=version.version))
            artifact.save()
            return
        (self.registry / version.version / ROLLED_BACK).write_text(reason, encoding="utf-8")

    def rollback_reason(self, version: str) -> str | None:
        if self.online:
            reason = self._remote(f"v{version}").metadata.get(ROLLED_BACK)
            return None if reason is None else str(reason)
        mark = self.registry / version / ROLLED_BACK
        return mark.read_text(encoding="utf-8") if mark.is_file() else None

    def attach_signed(self, version: ModelVersion, directory: Path) -> None:
        self.get_version(version.version)  # refuses unknown versions
        if self.online:  # an artifact's files are immutable: a collection of their own
            name = SIGNED_ARTIFACT.format(model=self.model_name)
            artifact = wandb.Artifact(
                name, type=ARTIFACT_TYPE, metadata={"version": version.version}
            )
            artifact.add_dir(str(directory))
            with self._init("sign") as run:
                alias = SIGNED_ALIAS.format(version=version.version)
                run.log_artifact(artifact, aliases=[alias]).wait()
            return
        keep_copy(directory, self.registry / version.version / SIGNED)

    def get_signed(self, version: ModelVersion, directory: Path) -> bool:
        if self.online:
            name = SIGNED_ARTIFACT.format(model=self.model_name)
            alias = SIGNED_ALIAS.format(version=version.version)
            try:
                artifact = wandb.Api().artifact(f"{self.project}/{name}:{alias}")
            except CommError:
                return False
            self._use(artifact, "export-model", str(directory))
            return True
        return copy_kept(self.registry / version.version / SIGNED, directory)


def _write(directory: Path, pipeline: Pipeline, record: Mapping[str, Any]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    joblib.dump(pipeline, directory / MODEL_FILE)
    (directory / VERSION_FILE).write_text(json.dumps(record, indent=2), encoding="utf-8")
    return directory
