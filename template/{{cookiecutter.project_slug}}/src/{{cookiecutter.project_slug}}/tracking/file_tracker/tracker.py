"""Tracking with plain files: runs and model versions in a directory, no server.

Layout under the tracking uri (params.yaml `tracking.uri`, default models/registry):
    runs/<run id>/params.json, metrics.json, artifacts/
    <model name>/<version>/model.joblib, run.json (its run and lineage)
    <model name>/<alias>           the version number holding the alias (champion, challenger)
    <model name>/<version>/<alias>_note  the note the version was given its alias with
    <model name>/<version>/rolled_back   why monitoring rolled the version back, if it did
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import joblib
import pandas as pd
from sklearn.pipeline import Pipeline

from ...config import ENV_PREFIX, TrackingSettings
from ..base import ModelVersion, Tracker, checked_alias, copy_kept, flatten, keep_copy

ROLLED_BACK = "rolled_back"  # a version's mark: why monitoring rolled it back
ALIAS_NOTE = "{alias}_note"  # a version's file: the note its alias came with
SIGNED = "signed"  # a version's directory: its signed export


class FileTracker(Tracker):
    @staticmethod
    def local_uri(root: Path) -> str:
        return str(root / "models" / "registry")

    def __init__(self, settings: TrackingSettings) -> None:
        self.root = Path(settings.uri or self.local_uri(Path()))
        self.configured_uri = settings.uri
        self.model_name = settings.model_name
        self._run_dir: Path | None = None

    def shared_store(self) -> str | None:
        return self.configured_uri  # a directory the user chose, e.g. a mounted volume

    @staticmethod
    def shared_store_setup() -> str:
        return (
            f"set params.yaml `tracking.uri` (or the {ENV_PREFIX}TRACKING__URI variable) to a "
            "persistent directory every CT run mounts (the registry lives there)"
        )

    @property
    def run_dir(self) -> Path:
        if self._run_dir is None:
            raise RuntimeError("no active run: call inside `with tracker.start_run(...)`")
        return self._run_dir

    @contextmanager
    def start_run(self, name: str) -> Iterator[str]:
        run_id = f"{datetime.now(UTC):%Y%m%dT%H%M%S%f}-{name}"
        self._run_dir = self.root / "runs" / run_id
        self._run_dir.mkdir(parents=True)
        try:
            yield run_id
        finally:
            self._run_dir = None

    def _update_json(self, name: str, values: Mapping[str, Any]) -> None:
        path = self.run_dir / name
        current = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
        path.write_text(json.dumps({**current, **values}, indent=2, default=str), encoding="utf-8")

    def log_params(self, params: Mapping[str, Any]) -> None:
        self._update_json("params.json", dict(flatten(params)))

    def log_metrics(self, metrics: Mapping[str, float]) -> None:
        self._update_json("metrics.json", metrics)

    def log_artifact(self, path: Path) -> None:
        target = self.run_dir / "artifacts" / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        if path.is_dir():
            shutil.copytree(path, target, dirs_exist_ok=True)
        else:
            shutil.copy2(path, target)

    def _versions(self) -> list[int]:
        model_dir = self.root / self.model_name
        if not model_dir.is_dir():
            return []
        return sorted(int(p.name) for p in model_dir.iterdir() if p.name.isdigit())

    def register_model(
        self, pipeline: Pipeline, input_example: pd.DataFrame, lineage: Mapping[str, str]
    ) -> ModelVersion:
        number = str(max(self._versions(), default=0) + 1)
        directory = self.root / self.model_name / number
        directory.mkdir(parents=True)
        joblib.dump(pipeline, directory / "model.joblib")
        version = ModelVersion(self.model_name, number, self.run_dir.name, dict(lineage))
        record = {
            "run_id": version.run_id,
            "inputs": list(input_example.columns),
            "lineage": version.lineage,
        }
        (directory / "run.json").write_text(json.dumps(record, indent=2), encoding="utf-8")
        return version

    def get_version(self, version: str) -> ModelVersion:
        record = self.root / self.model_name / version / "run.json"
        if not record.is_file():
            raise LookupError(f"model {self.model_name!r} has no version {version!r}")
        run = json.loads(record.read_text(encoding="utf-8"))
        return ModelVersion(self.model_name, version, run["run_id"], run.get("lineage", {}))

    def _pointer(self, alias: str) -> Path:
        return self.root / self.model_name / checked_alias(alias)

    def get_alias(self, alias: str) -> ModelVersion | None:
        pointer = self._pointer(alias)
        if not pointer.exists():
            return None
        return self.get_version(pointer.read_text(encoding="utf-8").strip())

    def _note(self, alias: str, version: str) -> Path:
        return self.root / self.model_name / version / ALIAS_NOTE.format(alias=alias)

    def set_alias(self, alias: str, version: ModelVersion, note: str = "") -> None:
        self.get_version(version.version)  # refuses unknown versions
        # The note first, beside the version: the pointer moving is the alias moving.
        path = self._note(checked_alias(alias), version.version)
        if note:
            path.write_text(note, encoding="utf-8")
        else:
            path.unlink(missing_ok=True)
        self._pointer(alias).write_text(version.version, encoding="utf-8")

    def alias_note(self, alias: str) -> str:
        held = self.get_alias(alias)
        path = None if held is None else self._note(alias, held.version)
        return path.read_text(encoding="utf-8") if path and path.is_file() else ""

    def remove_alias(self, alias: str) -> None:
        self._pointer(alias).unlink(missing_ok=True)

    def load_model(self, version: ModelVersion) -> Pipeline:
        path = self.root / version.name / version.version / "model.joblib"
        pipeline: Pipeline = joblib.load(path)
        return pipeline

    def mark_rolled_back(self, version: ModelVersion, reason: str) -> None:
        self.get_version(version.version)  # refuses unknown versions
        mark = self.root / self.model_name / version.version / ROLLED_BACK
        mark.write_text(reason, encoding="utf-8")

    def rollback_reason(self, version: str) -> str | None:
        mark = self.root / self.model_name / version / ROLLED_BACK
        return mark.read_text(encoding="utf-8") if mark.is_file() else None

    def attach_signed(self, version: ModelVersion, directory: Path) -> None:
        self.get_version(version.version)  # refuses unknown versions
        keep_copy(directory, self.root / self.model_name / version.version / SIGNED)

    def get_signed(self, version: ModelVersion, directory: Path) -> bool:
        return copy_kept(self.root / self.model_name / version.version / SIGNED, directory)
