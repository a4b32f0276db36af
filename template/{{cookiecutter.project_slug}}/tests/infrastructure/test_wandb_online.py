"""ML Test Score, infrastructure: online, W&B's Registry holds the promoted model and W&B's
lineage links every run that consumed it to the run that trained it.

W&B online needs an account and the network: these tests run the adapter's online path
against `wandb_server.py`, an in-memory stand-in for the server's side of the SDK calls.
"""

from __future__ import annotations

import pytest

from {{ cookiecutter.project_slug }} import pipeline
from {{ cookiecutter.project_slug }}.config import Settings
from {{ cookiecutter.project_slug }}.registry.champion import ship_champion
from {{ cookiecutter.project_slug }}.tracking import CHALLENGER, CHAMPION, get_tracker
from {{ cookiecutter.project_slug }}.tracking.wandb_tracker import tracker as adapter
from {{ cookiecutter.project_slug }}.training.candidate import train_candidate

from .wandb_server import Server

pytestmark = pytest.mark.infrastructure


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> Server:
    """W&B online, its server in memory."""
    monkeypatch.setenv("WANDB_MODE", "online")
    stand_in = Server(tmp_path_factory.mktemp("wandb-server"))
    monkeypatch.setattr(adapter, "wandb", stand_in)
    return stand_in


def test_the_registry_holds_the_champion_and_every_consumer_links_back_to_its_training(
    fresh_workspace: Settings, server: Server
) -> None:
    """Infrastructure 3 (the model is versioned and its lineage kept): the promotion links
    the champion into the W&B Registry's model collection with the alias; from there W&B's
    lineage leads to the run that trained it, and each run that read it back (the
    promotion's signing, the export CD serves, the next training comparing against it)
    used that very version or its signed export."""
    settings = fresh_workspace
    tracker = get_tracker(settings.tracking)
    pipeline.ingest(settings)
    first = train_candidate(settings, tracker)
    assert pipeline.promote(settings, tracker).promote

    collection = f"wandb-registry-model/{settings.tracking.model_name}"
    champion = server.holder(collection, CHAMPION)
    assert champion is not None, f"no {CHAMPION} in the Registry's {collection}"
    assert f"v{champion.number}" == f"v{first.version}"
    trained_by = next(run for run in server.runs if run.id == champion.logged_by)
    assert trained_by.job_type == "train"
    assert trained_by.id == first.run_id == champion.metadata["run_id"]

    ship_champion(settings, tracker)  # what CD builds into the serving image
    signed = server.versions[f"{settings.tracking.model_name}-signed"][0]
    assert signed.metadata["version"] == first.version
    exports = [run for run in server.runs if run.job_type == "export-model"]
    assert exports, "no run read the signed export back"
    assert all(run.used == [signed] for run in exports)
    signing = [run for run in server.runs if run.job_type == "load-model"]
    assert signing, "the promotion signed a model no run read"
    assert all(run.used == [champion] for run in signing)

    second = train_candidate(settings, tracker)  # measures its serving cost beside the champion
    retrained_by = next(run for run in server.runs if run.id == second.run_id)
    assert champion in retrained_by.used


def test_the_registry_moves_and_removes_an_alias_with_the_project(
    fresh_workspace: Settings, server: Server
) -> None:
    """An alias the gate moves or removes moves or goes in the Registry too: its readers
    never see a challenger the project retired, or two champions."""
    settings = fresh_workspace
    tracker = get_tracker(settings.tracking)
    pipeline.ingest(settings)
    first = tracker.get_version(train_candidate(settings, tracker).version)
    second = tracker.get_version(train_candidate(settings, tracker).version)
    collection = f"wandb-registry-model/{settings.tracking.model_name}"

    tracker.set_alias(CHAMPION, first)
    tracker.set_alias(CHALLENGER, second)
    tracker.set_alias(CHAMPION, second)
    held = server.holder(collection, CHAMPION)
    assert held is not None
    assert held.number == int(second.version)
    assert [link.aliases for link in server.collections[collection]] == [
        [],
        [CHALLENGER, CHAMPION],
    ]
    assert tracker.get_champion() == second

    tracker.remove_alias(CHALLENGER)
    assert server.holder(collection, CHALLENGER) is None
    assert tracker.get_alias(CHALLENGER) is None
