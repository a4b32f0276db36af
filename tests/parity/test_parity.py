"""Copier and Cookiecutter render byte-identical projects for every structural combination.

Cookiecutter goes through pytest-cookies (`cookies.bake`), Copier through `run_copy`; the
trees must match file for file and byte for byte, Copier's `.copier-answers.yml` excepted.
Cosmetic questions keep their defaults here: the matrix covers them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from support.rendering import (
    combination_id,
    empty_directories,
    matrix,
    render_copier,
    shards,
    tree_bytes,
)
from support.reporting import RecordProperty

SHARDS = 8
COPIER_ONLY = (".copier-answers.yml",)


@pytest.mark.parametrize("shard", range(SHARDS), ids=lambda i: f"shard{i + 1}of{SHARDS}")
def test_copier_and_cookiecutter_render_identical_trees(
    shard: int,
    cookies: Any,  # pytest-cookies' fixture; its type is not public
    copier_source: Path,
    tmp_path: Path,
    record_property: RecordProperty,
) -> None:
    mismatches = []
    # The matrix's combinations: every structural one, with the orthogonal answers (compute)
    # spread so that each of their values meets every other value.
    combinations = shards(matrix(), SHARDS)[shard]
    for combination in combinations:
        answers = dict(combination)
        # Both engines render the same snapshot of the template (see copier_source).
        baked = cookies.bake(extra_context=answers, template=str(copier_source / "template"))
        assert baked.exception is None, f"{combination_id(answers)}: {baked.exception}"
        assert baked.exit_code == 0
        copied = render_copier(copier_source, answers, tmp_path / combination_id(answers))
        assert (copied / ".copier-answers.yml").is_file()
        for engine, project in (("cookiecutter", Path(baked.project_path)), ("copier", copied)):
            if empty := empty_directories(project):
                mismatches.append(f"{combination_id(answers)}: {engine} left empty {empty}")
        by_cookiecutter = tree_bytes(Path(baked.project_path))
        by_copier = tree_bytes(copied, ignore=COPIER_ONLY)
        if by_cookiecutter != by_copier:
            only_cc = sorted(set(by_cookiecutter) - set(by_copier))
            only_cp = sorted(set(by_copier) - set(by_cookiecutter))
            common = set(by_copier) & set(by_cookiecutter)
            differ = sorted(k for k in common if by_copier[k] != by_cookiecutter[k])
            mismatches.append(
                f"{combination_id(answers)}: only cookiecutter {only_cc}, "
                f"only copier {only_cp}, different {differ}"
            )
    record_property("combinations", len(combinations))
    assert not mismatches, "\n".join(mismatches)
