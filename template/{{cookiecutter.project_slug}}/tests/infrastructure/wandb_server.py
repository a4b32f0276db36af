"""An in-memory W&B server behind the SDK calls the tracker's online path makes.

W&B's online mode needs an account and the network, neither of which the tests have. This
stands in for `wandb` inside the adapter's module with what the server does for those calls:
artifact versions numbered per name and deduplicated by content, an alias held by one
version of a collection, the Registry's collections of links to source versions, and each
run's inputs (`use_artifact`) and outputs (`log_artifact`), which are W&B's lineage graph.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from wandb.errors import CommError

REGISTRY_PREFIX = "wandb-registry-"


@dataclass
class Version:
    """A logged artifact version: its files, metadata, aliases and the runs around it."""

    name: str
    number: int
    digest: str
    files: dict[str, bytes] = field(repr=False)
    metadata: dict[str, Any] = field(repr=False)
    logged_by: str
    aliases: list[str] = field(default_factory=list)


@dataclass
class Link:
    """A Registry collection's entry: a source version, with the collection's aliases."""

    source: Version
    aliases: list[str] = field(default_factory=list)


@dataclass
class Run:
    """A run: its job type, and the versions it used (its inputs in W&B's lineage)."""

    id: str
    job_type: str
    used: list[Version] = field(default_factory=list)


class Server:
    """The projects' artifacts and the Registry's collections, and the runs."""

    def __init__(self, scratch: Path) -> None:
        self.scratch = scratch
        self.versions: dict[str, list[Version]] = {}  # by artifact name
        self.collections: dict[str, list[Link]] = {}  # by "wandb-registry-<r>/<collection>"
        self.runs: list[Run] = []

    def holder(self, collection: str, alias: str) -> Version | None:
        """The source version holding `alias` in a project's artifact or a collection."""
        if collection.startswith(REGISTRY_PREFIX):
            links = self.collections.get(collection, [])
            return next((link.source for link in links if alias in link.aliases), None)
        versions = self.versions.get(collection.rpartition("/")[2], [])
        return next((v for v in versions if alias in (*v.aliases, f"v{v.number}")), None)

    # ---- the `wandb` names the adapter uses -------------------------------------------

    def init(self, **options: Any) -> FakeRun:
        run = Run(id=f"run{len(self.runs)}", job_type=str(options["job_type"]))
        self.runs.append(run)
        directory = self.scratch / run.id
        directory.mkdir(parents=True)
        return FakeRun(self, run, directory)

    def Api(self) -> FakeApi:
        return FakeApi(self)

    def Artifact(self, name: str, type: str, metadata: dict[str, Any] | None = None) -> Draft:
        return Draft(name, dict(metadata or {}))

    @staticmethod
    def Image(path: str) -> str:
        return path

    @staticmethod
    def Settings(**settings: Any) -> dict[str, Any]:
        return settings


class Draft:
    """`wandb.Artifact` before it is logged: its files."""

    def __init__(self, name: str, metadata: dict[str, Any]) -> None:
        self.name = name
        self.metadata = metadata
        self.files: dict[str, bytes] = {}

    def add_file(self, path: str) -> None:
        self.files[Path(path).name] = Path(path).read_bytes()

    def add_dir(self, path: str) -> None:
        root = Path(path)
        for file in sorted(p for p in root.rglob("*") if p.is_file()):
            self.files[file.relative_to(root).as_posix()] = file.read_bytes()


class Logged:
    """`wandb.Artifact` once logged: a view of a version (through a collection)."""

    def __init__(self, server: Server, version: Version, link: Link | None = None) -> None:
        self.server = server
        self.source = version
        self.link_entry = link
        self.metadata = dict(version.metadata)
        self.aliases = list(link.aliases if link else version.aliases)
        self.version = f"v{version.number}"

    def wait(self) -> Logged:
        return self

    def save(self) -> None:
        """Metadata to the source version; aliases to the version or link, moved off others."""
        self.source.metadata = dict(self.metadata)
        if self.link_entry is not None:
            links = next(c for c in self.server.collections.values() if self.link_entry in c)
            _hold(self.link_entry.aliases, [e.aliases for e in links], self.aliases)
        else:
            versions = self.server.versions[self.source.name]
            _hold(self.source.aliases, [v.aliases for v in versions], self.aliases)

    def download(self, root: str) -> str:
        for name, content in self.source.files.items():
            target = Path(root) / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
        return root

    def link(self, target_path: str, aliases: Iterable[str] = ()) -> Logged:
        """A source version is linked once per collection; linking again adds aliases."""
        if not target_path.startswith(REGISTRY_PREFIX):
            raise CommError(f"not a Registry collection: {target_path}")
        links = self.server.collections.setdefault(target_path, [])
        entry = next((e for e in links if e.source is self.source), None)
        if entry is None:
            entry = Link(self.source)
            links.append(entry)
        _hold(entry.aliases, [e.aliases for e in links], [*entry.aliases, *aliases])
        return Logged(self.server, self.source, entry)


class FakeApi:
    def __init__(self, server: Server) -> None:
        self.server = server

    def artifact(self, name: str, type: str | None = None) -> Logged:
        collection, _, alias = name.rpartition(":")
        version = self.server.holder(collection, alias)
        if version is None:
            raise CommError(f"artifact {name} not found")
        links = self.server.collections.get(collection, [])
        link = next((e for e in links if e.source is version), None)
        return Logged(self.server, version, link)


class FakeRun:
    """A run: the context manager `wandb.init` returns, and what the adapter logs to it."""

    def __init__(self, server: Server, run: Run, directory: Path) -> None:
        self.server = server
        self.record = run
        self.id = run.id
        self.dir = str(directory)
        self.config: dict[str, Any] = {}
        self.summary: dict[str, Any] = {}
        self.saved: list[str] = []  # run files, relative to the run's directory

    def __enter__(self) -> FakeRun:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        return None

    def log(self, data: dict[str, Any]) -> None:
        self.summary.update(data)

    def save(self, path: str, base_path: str, policy: str) -> None:
        self.saved.append(Path(path).relative_to(base_path).as_posix())

    def log_artifact(self, draft: Draft, aliases: Iterable[str] = ()) -> Logged:
        """A new version unless one of that name has the same content (W&B's deduplication)."""
        versions = self.server.versions.setdefault(draft.name, [])
        digest = hashlib.md5(  # noqa: S324  # a content key, as W&B's digest is
            b"".join(name.encode() + content for name, content in sorted(draft.files.items()))
        ).hexdigest()
        version = next((v for v in versions if v.digest == digest), None)
        if version is None:
            version = Version(
                draft.name, len(versions), digest, draft.files, draft.metadata, self.id
            )
            versions.append(version)
        wanted = [*version.aliases, "latest", *aliases]
        _hold(version.aliases, [v.aliases for v in versions], wanted)
        return Logged(self.server, version)

    def use_artifact(self, artifact: Logged) -> Logged:
        self.record.used.append(artifact.source)
        return artifact


def _hold(own: list[str], others: Iterable[list[str]], wanted: Iterable[str]) -> None:
    """Give `own` the aliases `wanted`, taking each from whichever other holder had it: in
    a collection, an alias names one version."""
    kept = list(dict.fromkeys(wanted))
    for held in others:
        if held is not own:
            held[:] = [alias for alias in held if alias not in kept]
    own[:] = kept
