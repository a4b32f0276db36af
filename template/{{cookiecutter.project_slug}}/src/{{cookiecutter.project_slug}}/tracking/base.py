"""The tracker interface: the only thing the pipeline knows about experiment tracking and
the model registry. One adapter per tool implements it."""

from __future__ import annotations

import os
import shutil
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from sklearn.pipeline import Pipeline

CHAMPION = "champion"
CHALLENGER = "challenger"  # a candidate scored on live traffic beside the champion (shadow)


@dataclass(frozen=True)
class ModelVersion:
    """A registered model version and its lineage (see registry/lineage.py)."""

    name: str
    version: str
    run_id: str
    lineage: Mapping[str, str] = field(default_factory=dict)


class Tracker(ABC):
    """Runs with params, metrics and artifacts; model versions with aliases (the champion,
    the shadow challenger)."""

    @staticmethod
    @abstractmethod
    def local_uri(root: Path) -> str:
        """The URI of a store of this tracker's kept under `root`: the default store (under
        the project directory) when params.yaml sets no `tracking.uri`."""

    @abstractmethod
    def shared_store(self) -> str | None:
        """Where the registry is shared between machines (e.g. a server's URL), or None
        when it lives on this machine only (a CI runner's copy dies with the runner)."""

    @staticmethod
    @abstractmethod
    def shared_store_setup() -> str:
        """What to configure so that the registry is shared (the message CT stops with)."""

    @abstractmethod
    def start_run(self, name: str) -> AbstractContextManager[str]:
        """Open a run (the context yields its id); everything logged goes into it."""

    @abstractmethod
    def log_params(self, params: Mapping[str, Any]) -> None:
        """Log (flattened) parameters of the current run."""

    @abstractmethod
    def log_metrics(self, metrics: Mapping[str, float]) -> None:
        """Log metrics of the current run."""

    @abstractmethod
    def log_artifact(self, path: Path) -> None:
        """Attach a file or a directory to the current run."""

    @abstractmethod
    def register_model(
        self, pipeline: Pipeline, input_example: pd.DataFrame, lineage: Mapping[str, str]
    ) -> ModelVersion:
        """Store the fitted pipeline as a new version of the model, linked to the current run,
        with its lineage (the data and code it was trained on), which `get_version` returns."""

    @abstractmethod
    def get_version(self, version: str) -> ModelVersion:
        """A registered version by number (raises LookupError if there is none)."""

    @abstractmethod
    def get_alias(self, alias: str) -> ModelVersion | None:
        """The version holding the named alias (e.g. CHAMPION, CHALLENGER), or None."""

    @abstractmethod
    def set_alias(self, alias: str, version: ModelVersion, note: str = "") -> None:
        """Give the named alias to `version` (one version holds an alias: it moves; the
        version it leaves stays registered), with `note`, which `alias_note` returns while
        the alias stays there (e.g. a promotion's probation). Refuses unknown versions
        (LookupError)."""

    @abstractmethod
    def alias_note(self, alias: str) -> str:
        """The note the alias's holder was given it with ("" for none, or no holder): kept in
        the registry, so every machine that reads the registry reads it."""

    @abstractmethod
    def remove_alias(self, alias: str) -> None:
        """Take the named alias away from whichever version holds it (no-op when none does)."""

    def get_champion(self) -> ModelVersion | None:
        """The version serving now, or None before the first promotion."""
        return self.get_alias(CHAMPION)

    def set_champion(self, version: ModelVersion, note: str = "") -> None:
        """Make `version` the champion (the previous one stays registered: roll back by
        setting it again), with `note` (see `set_alias`)."""
        self.set_alias(CHAMPION, version, note)

    @abstractmethod
    def load_model(self, version: ModelVersion) -> Pipeline:
        """Load a registered version."""

    @abstractmethod
    def mark_rolled_back(self, version: ModelVersion, reason: str) -> None:
        """Mark `version` as rolled back, and why, where the registry keeps such marks: the
        promotion gate never promotes it again (a new training run makes a new version)."""

    @abstractmethod
    def rollback_reason(self, version: str) -> str | None:
        """Why `version` was rolled back (None when it never was)."""

    @abstractmethod
    def attach_signed(self, version: ModelVersion, directory: Path) -> None:
        """Keep the signed export of `version` in `directory` (its files, registry/
        provenance.py) with the version, replacing any kept before: every later export of
        the version is a copy of it, byte for byte, so its signature holds."""

    @abstractmethod
    def get_signed(self, version: ModelVersion, directory: Path) -> bool:
        """Copy the signed export kept with `version` into `directory` (it exists); False
        when none was kept (a version no promotion signed)."""


def checked_alias(alias: str) -> str:
    """An alias name every registry accepts, and no version number (ValueError otherwise)."""
    if not (alias.isidentifier() and alias.isascii() and alias.islower()):
        raise ValueError(f"alias {alias!r}: use lowercase letters, digits and _, e.g. champion")
    return alias


def flatten(params: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Nested settings as dotted keys, e.g. `train: {model: x}` gives ("train.model", "x")."""
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            yield from flatten(value, f"{name}.")
        else:
            yield name, value


@contextmanager
def environment_kept(*names: str) -> Iterator[None]:
    """The variables `names` as they were before the block, whatever a library exports in it
    for its subprocesses: a subprocess started later (an orchestrator's task) would take
    them for the user's settings."""
    previous = {name: os.environ.get(name) for name in names}
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def keep_copy(directory: Path, kept: Path) -> None:
    """Keep a copy of `directory` at `kept` (e.g. a signed export beside its version in a
    registry of plain files), replacing the one kept before."""
    shutil.rmtree(kept, ignore_errors=True)
    shutil.copytree(directory, kept)


def copy_kept(kept: Path, directory: Path) -> bool:
    """Copy what `keep_copy` kept at `kept` into `directory`; False when nothing is kept."""
    if not kept.is_dir():
        return False
    shutil.copytree(kept, directory, dirs_exist_ok=True)
    return True
