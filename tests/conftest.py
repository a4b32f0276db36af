"""Fixtures and reporting shared by the template's tests (helpers: the support package)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from support import jinja_cache
from support.rendering import ROOT, TEMPLATE

# Every render of this process shares Jinja's compilations (support/jinja_cache.py).
jinja_cache.install()


@pytest.fixture(scope="session")
def copier_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The working tree's template outside git, so Copier renders it as it is now instead
    of cloning the repository (and its newest tag) for every combination."""
    source = tmp_path_factory.mktemp("copier-source")
    for name in ("copier.yml", "options.yml"):
        shutil.copy2(ROOT / name, source / name)
    shutil.copytree(TEMPLATE, source / "template")
    return source


@pytest.fixture(scope="session", autouse=True)
def contained_temporary_files(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Temporary files of this process under pytest's base directory, which pytest prunes:
    Cookiecutter writes each rendered hook to a temporary file that it never deletes."""
    before = tempfile.tempdir
    tempfile.tempdir = str(tmp_path_factory.mktemp("tempfiles"))
    yield
    tempfile.tempdir = before


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The deep tests first (minutes each, where most others take seconds): the workers
    share out the long ones and end on short ones, which `--dist worksteal` moves from a
    busy worker to an idle one, instead of one worker starting a ten-minute test last."""
    items.sort(key=lambda item: item.get_closest_marker("deep") is None)


# ---- Reporting, summed over xdist workers: how many combinations each module verified,
# and the wall times the deep tests record (`record_property("wall_time", ...)`).
_verified: dict[str, int] = {}
_wall_times: list[str] = []
_trees: set[str] = set()
_measured: list[str] = []  # figures a deep test measured (`record_property("measured", ...)`)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when != "call":
        return
    module = report.nodeid.split("::")[0]
    for name, value in report.user_properties:
        if name == "combinations" and report.passed:
            _verified[module] = _verified.get(module, 0) + int(str(value))
        elif name == "wall_time":
            _wall_times.append(str(value))
        elif name == "tree" and report.passed:
            _trees.add(str(value))
        elif name == "measured":
            _measured.append(str(value))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for line in _wall_times:
        terminalreporter.write_line(f"wall time, {line}")
    for line in _measured:
        terminalreporter.write_line(f"measured, {line}")
    for module, count in sorted(_verified.items()):
        terminalreporter.write_line(f"{module}: {count} combinations rendered and verified")
    if _trees:
        terminalreporter.write_line(
            f"tests/matrix/test_matrix.py: {len(_trees)} structurally distinct trees "
            f"(cosmetic answers blanked; as many as combinations once no choice is hollow)"
        )
