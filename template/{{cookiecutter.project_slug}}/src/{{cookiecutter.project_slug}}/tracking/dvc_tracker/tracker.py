"""Tracking with DVC: DVCLive logs each run, DVC's model registry keeps the versions.

* Runs: DVCLive writes params, metrics and figures to `<tracking.uri>/dvclive/`; the train
  stage of dvc.yaml declares them, so `dvc exp run` records each run as an experiment and
  `dvc exp show`, `dvc metrics diff` and `dvc plots diff` compare them.
* Registry: a git + DVC repository of its own, `<tracking.uri>/models/registry/`, whose
  dvc.yaml declares the model artifact. Each version is a commit of the model's DVC pointer
  (`model.joblib.dvc`, content in the DVC cache) and of `version.json` (run, lineage),
  tagged as GTO registers versions (`<model>@v<N>.0.0`); aliases are GTO stages: the
  champion is the stage `champion` (`<model>#champion#<n>` tags), the shadow challenger the
  stage `challenger`, removed with GTO's unassign (`<model>#challenger!#<n>`); an alias's
  note (a promotion's probation) is its assignment tag's message (`gto history` shows it).
  GTO resolves them without any network access, and so do `gto show` and, for versions,
  `dvc artifacts get`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# DVC ships no type information.
import dvc.api  # type: ignore[import-untyped]
import gto.api
import joblib
import pandas as pd
import yaml
from dvc.repo import Repo  # type: ignore[import-untyped]
from dvclive.live import Live
from sklearn.pipeline import Pipeline

from ...config import ENV_PREFIX, TrackingSettings
from ..base import ModelVersion, Tracker, checked_alias, keep_copy

MODEL_FILE = "model.joblib"
VERSION_FILE = "version.json"
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".svg"}
# Who commits and tags in the registry when git knows no one (e.g. a CI runner).
FALLBACK_IDENTITY = {"name": "model registry", "email": "registry@localhost"}
GTO_MESSAGE = "Assigning stage "  # how GTO words an assignment given no message
# A version's signed export: signed/v<N>/ in the registry, its model file in DVC's cache.
SIGNED = "signed/v{version}"


class DvcTracker(Tracker):
    @staticmethod
    def local_uri(root: Path) -> str:
        return str(root)  # dvclive/ and models/registry/ under it

    def __init__(self, settings: TrackingSettings) -> None:
        root = Path(settings.uri or self.local_uri(Path()))
        self.configured_uri = settings.uri
        self.live_dir = root / "dvclive"
        self.registry = root / "models" / "registry"
        self.model_name = settings.model_name
        self._live: Live | None = None
        self._run_id = ""

    def shared_store(self) -> str | None:
        return self.configured_uri  # a directory the user chose, e.g. a mounted volume

    @staticmethod
    def shared_store_setup() -> str:
        return (
            f"set params.yaml `tracking.uri` (or the {ENV_PREFIX}TRACKING__URI variable) to a "
            "persistent directory every CT run mounts (the registry's git repository and "
            "DVC cache live there)"
        )

    @property
    def live(self) -> Live:
        if self._live is None:
            raise RuntimeError("no active run: call inside `with tracker.start_run(...)`")
        return self._live

    @contextmanager
    def start_run(self, name: str) -> Iterator[str]:
        # `dvc exp run` names the experiment; outside it the run is named by its start time.
        self._run_id = (
            os.environ.get("DVC_EXP_NAME") or f"{datetime.now(UTC):%Y%m%dT%H%M%S%f}-{name}"
        )
        # Experiments come from `dvc exp run` and dvc.yaml declares DVCLive's files, so
        # DVCLive neither saves experiments of its own nor edits dvc.yaml.
        # dvc.yaml declares dvclive/ as the training runs' record: other runs (the shadow
        # challenger's verdicts) keep theirs beside it, in dvclive-<name>/.
        directory = self.live_dir if name == "train" else self.live_dir.with_name(f"dvclive-{name}")
        with Live(str(directory), save_dvc_exp=False, dvcyaml=None) as live:
            self._live = live
            try:
                yield self._run_id
            finally:
                self._live = None

    def log_params(self, params: Mapping[str, Any]) -> None:
        self.live.log_params(dict(params))

    def log_metrics(self, metrics: Mapping[str, float]) -> None:
        for name, value in metrics.items():
            self.live.log_metric(name, value, plot=False)  # held-out values, not a series

    def log_artifact(self, path: Path) -> None:
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            if file.suffix in IMAGE_SUFFIXES:
                self.live.log_image(file.name, file)
            else:  # a copy in dvclive/artifacts/ (dvc.yaml versions it with the run)
                target = Path(self.live.artifacts_dir) / file.name
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(file, target)

    # ---- the registry ------------------------------------------------------------------

    def _git(self, *args: str) -> str:
        git = shutil.which("git")
        if git is None:
            raise RuntimeError("the DVC model registry needs git on PATH")
        result = subprocess.run(  # noqa: S603  # fixed arguments, no shell
            [git, "-C", str(self.registry), *args], capture_output=True, text=True, check=True
        )
        return result.stdout.strip()

    def _identity(self) -> dict[str, str]:
        known = {
            key: self._git("config", "--default", "", f"user.{key}") for key in FALLBACK_IDENTITY
        }
        return known if all(known.values()) else FALLBACK_IDENTITY

    def _commit(self, model: Path, message: str) -> dict[str, str]:
        """Commit the registry's working tree, `model` added to DVC (its pointer to git), as
        the registry's identity, which it returns."""
        with Repo(str(self.registry)) as repo:
            repo.add(str(model.resolve()))
        identity = self._identity()
        self._git("add", "--all")
        self._git(
            "-c", f"user.name={identity['name']}", "-c", f"user.email={identity['email']}",
            "commit", "--quiet", "--message", message,
        )  # fmt: skip
        return identity

    def _ensure_registry(self) -> None:
        if (self.registry / ".dvc").is_dir():
            return
        self.registry.mkdir(parents=True, exist_ok=True)
        self._git("init", "--quiet")
        Repo.init(str(self.registry)).close()
        artifact = {"path": MODEL_FILE, "type": "model"}
        artifacts = {self.model_name: artifact}
        (self.registry / "dvc.yaml").write_text(
            yaml.safe_dump({"artifacts": artifacts}), encoding="utf-8"
        )

    def _tag(self, version: str) -> str:
        return f"{self.model_name}@v{version}.0.0"

    def _versions(self) -> list[int]:
        if not (self.registry / ".git").is_dir():
            return []
        prefix = f"{self.model_name}@v"
        tags = self._git("tag", "--list", f"{prefix}*").split()
        return sorted(int(tag.removeprefix(prefix).split(".")[0]) for tag in tags)

    def register_model(
        self, pipeline: Pipeline, input_example: pd.DataFrame, lineage: Mapping[str, str]
    ) -> ModelVersion:
        self._ensure_registry()
        number = str(max(self._versions(), default=0) + 1)
        record = {
            "run_id": self._run_id,
            "inputs": list(input_example.columns),
            "lineage": dict(lineage),
        }
        joblib.dump(pipeline, self.registry / MODEL_FILE)
        (self.registry / VERSION_FILE).write_text(json.dumps(record, indent=2), encoding="utf-8")
        message = f"{self.model_name} v{number} (run {self._run_id})"
        identity = self._commit(self.registry / MODEL_FILE, message)
        gto.api.register(
            self.registry,
            self.model_name,
            ref="HEAD",
            version=f"v{number}.0.0",
            message=json.dumps(record["lineage"]),
            author=identity["name"],
            author_email=identity["email"],
        )
        return ModelVersion(self.model_name, number, self._run_id, dict(lineage))

    def get_version(self, version: str) -> ModelVersion:
        if not version.isdigit() or int(version) not in self._versions():
            raise LookupError(f"model {self.model_name!r} has no version {version!r}")
        record = json.loads(
            dvc.api.read(VERSION_FILE, repo=str(self.registry), rev=self._tag(version))
        )
        return ModelVersion(self.model_name, version, record["run_id"], record["lineage"])

    def _holders(self, alias: str) -> list[str]:
        """The versions (GTO's `vN.0.0`) the stage is assigned to and not unassigned since."""
        found = gto.api.find_versions_in_stage(
            self.registry, self.model_name, checked_alias(alias), versions_per_stage=-1
        )
        return [str(stage.version) for stage in found or []]

    def get_alias(self, alias: str) -> ModelVersion | None:
        if not self._versions():
            return None
        # GTO's resolution, which honours unassignments (dvc.api.artifacts_show does not);
        # set_alias leaves one version in the stage.
        holders = self._holders(alias)
        return self.get_version(holders[0].removeprefix("v").split(".")[0]) if holders else None

    def _after_last_stage_tag(self, alias: str) -> None:
        """GTO orders stage events by their tag's time, in seconds: never tie the last."""
        latest = self._git(
            "for-each-ref", "--sort=-taggerdate", "--count=1", "--format=%(taggerdate:unix)",
            f"refs/tags/{self.model_name}#{alias}*",
        )  # fmt: skip
        while latest and int(time.time()) <= int(latest):
            time.sleep(0.1)

    def _unassign(self, alias: str, holders: list[str]) -> None:
        identity = self._identity()
        for holder in holders:
            self._after_last_stage_tag(alias)
            gto.api.unassign(
                self.registry,
                self.model_name,
                version=holder,
                stage=alias,
                author=identity["name"],
                author_email=identity["email"],
            )

    def set_alias(self, alias: str, version: ModelVersion, note: str = "") -> None:
        self.get_version(version.version)  # refuses unknown versions
        tag = f"v{version.version}.0.0"
        # A stage can hold several versions in GTO: the alias moves, so the others leave it.
        self._unassign(alias, [held for held in self._holders(alias) if held != tag])
        self._after_last_stage_tag(alias)
        identity = self._identity()
        gto.api.assign(
            self.registry,
            self.model_name,
            alias,
            version=tag,
            force=True,  # a rollback may return the stage to a version that held it before
            message=note or None,  # None: GTO's own message (GTO_MESSAGE)
            author=identity["name"],
            author_email=identity["email"],
        )

    def alias_note(self, alias: str) -> str:
        """The message of the holder's assignment tag: the stage's newest (moving the alias
        assigns it; unassignments are tags of another pattern, `<stage>!`)."""
        if not self._versions() or not self._holders(alias):
            return ""
        message = self._git(
            "for-each-ref", "--sort=-taggerdate", "--count=1", "--format=%(contents)",
            f"refs/tags/{self.model_name}#{checked_alias(alias)}#*",
        )  # fmt: skip
        return "" if message.startswith(GTO_MESSAGE) else message

    def remove_alias(self, alias: str) -> None:
        if self._versions():
            self._unassign(alias, self._holders(alias))

    def load_model(self, version: ModelVersion) -> Pipeline:
        with dvc.api.open(
            MODEL_FILE, repo=str(self.registry), rev=self._tag(version.version), mode="rb"
        ) as stream:
            pipeline: Pipeline = joblib.load(stream)
        return pipeline

    def mark_rolled_back(self, version: ModelVersion, reason: str) -> None:
        self.get_version(version.version)  # refuses unknown versions
        identity = self._identity()
        # GTO's deregistration (a `<model>@v<N>.0.0!` tag) withdraws the version, with why.
        gto.api.deregister(
            self.registry,
            self.model_name,
            version=f"v{version.version}.0.0",
            message=reason,
            author=identity["name"],
            author_email=identity["email"],
        )

    def rollback_reason(self, version: str) -> str | None:
        if not (self.registry / ".git").is_dir():
            return None
        tag = f"refs/tags/{self._tag(version)}!"
        if not self._git("tag", "--list", f"{self._tag(version)}!"):
            return None
        return self._git("for-each-ref", "--format=%(contents)", tag)

    def attach_signed(self, version: ModelVersion, directory: Path) -> None:
        self.get_version(version.version)  # refuses unknown versions
        kept = self.registry / SIGNED.format(version=version.version)
        keep_copy(directory, kept)
        self._commit(kept / MODEL_FILE, f"{self.model_name} v{version.version} signed")

    def get_signed(self, version: ModelVersion, directory: Path) -> bool:
        kept = self.registry / SIGNED.format(version=version.version)
        if not (kept / f"{MODEL_FILE}.dvc").is_file():
            return False
        for file in kept.iterdir():
            if file.name not in (MODEL_FILE, ".gitignore") and file.suffix != ".dvc":
                shutil.copy2(file, directory / file.name)
        path = (kept / MODEL_FILE).relative_to(self.registry).as_posix()
        with dvc.api.open(path, repo=str(self.registry), mode="rb") as stream:
            (directory / MODEL_FILE).write_bytes(stream.read())
        return True
