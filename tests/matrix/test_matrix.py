"""Every combination renders with Copier and passes every static check, and Cookiecutter
renders it byte for byte the same.

Size: the full Cartesian product of the *structural* choice questions (every choice
question except the cosmetic ones in rendering.COSMETIC and the orthogonal ones in
rendering.ORTHOGONAL: today tracker x orchestrator x cloud x ci = 4 x 7 x 4 x 3 = 336), each
paired with cosmetic and orthogonal answers (python_version, license; compute) chosen so
that every pair of values of any two questions is rendered at least once (pairwise
coverage; the full product would cost 24 times as long for variations that interact with
no other answer). A question added to options.yml joins the product unaided.

The combinations are split into shards; each shard renders its projects in-process and
runs every validator CLI once over all of them (see support/static_checks.py). Engine
parity: Cookiecutter goes through pytest-cookies (`cookies.bake`) on the same snapshot of the
template; its tree must match Copier's file for file and byte for byte, Copier's
`.copier-answers.yml` excepted (one Copier render per combination serves both checks).
"""

from __future__ import annotations

import hashlib
import itertools
import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from support import static_checks
from support.checks import check_all
from support.rendering import (
    LONGEST_NAME,
    LONGEST_SLUG,
    choice_questions,
    choices,
    combination_id,
    defaults,
    empty_directories,
    layout,
    matrix,
    pairs,
    render_copier,
    rendered_files,
    shards,
    structural_questions,
    tool_questions,
    tree_bytes,
)
from support.reporting import RecordProperty

SHARDS = 12
COPIER_ONLY = (".copier-answers.yml",)


@pytest.fixture(scope="module", autouse=True)
def validated_once(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """One memo of validated files for the whole run, shared by the xdist workers (their
    base temporary directories are siblings), so each distinct file is validated once."""
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    static_checks.MEMO = shared / "validated-files"
    yield
    static_checks.MEMO = None


# Tool names that appear in every project for another reason: DVC versions the data of
# every project, whatever the experiment tracker.
ALWAYS_PRESENT = {"dvc"}
# Choice values that mean "no tool".
NO_TOOL = {"none", "local"}


def test_matrix_is_the_full_structural_product_with_pairwise_cosmetics() -> None:
    combos = matrix()
    expected = math.prod(len(choices(n)) for n in structural_questions())
    assert len(combos) == expected
    assert len({combination_id(c) for c in combos}) == expected
    covered = {p for c in combos for p in pairs(c)}
    wanted = {
        frozenset({(a, va), (b, vb)})
        for a, b in itertools.combinations(choice_questions(), 2)
        for va in choices(a)
        for vb in choices(b)
    }
    assert wanted <= covered, f"pairs never rendered: {sorted(map(sorted, wanted - covered))[:5]}"


def tool_paths(project: Path, value: str) -> list[str]:
    """Rendered paths that carry a tool's name in one of their parts."""
    token = value.lower()
    return [
        p.relative_to(project).as_posix()
        for p in rendered_files(project)
        if any(token in part.lower() for part in p.relative_to(project).parts)
    ]


def foreign_tool_files(project: Path, answers: dict[str, str]) -> list[str]:
    problems = []
    for question in tool_questions():
        for value in choices(question):
            if value == answers[question] or value in NO_TOOL | ALWAYS_PRESENT:
                continue
            problems += [
                f"{project.name}: {path} belongs to {question}={value}, not chosen"
                for path in tool_paths(project, value)
            ]
    return problems


# Names a tracker goes by in prose besides its answer and layout.yml's __tracker_name.
TRACKER_ALIASES = {"wandb": ("W&B",)}
# Files whose text is mostly prose a reader takes as a description of their project.
PROSE_SUFFIXES = {".md", ".tf"}


def foreign_tracker_docs(project: Path, answers: dict[str, str]) -> list[str]:
    """No prose of a render (its Markdown, and its Terraform's comments and descriptions)
    describes a tracker it did not choose."""
    names = layout()["derived"]["__tracker_name"]["values"]
    docs = {
        p: p.read_text(encoding="utf-8").lower()
        for p in rendered_files(project)
        if p.suffix in PROSE_SUFFIXES
    }
    problems = []
    for value in choices("tracker"):
        if value == answers["tracker"] or value in NO_TOOL | ALWAYS_PRESENT:
            continue
        words = {w.lower() for w in (value, names[value], *TRACKER_ALIASES.get(value, ()))}
        for word in sorted(words):
            problems += [
                f"{project.name}: {path.relative_to(project)} names {word!r}: tracker={value}"
                " was not chosen"
                for path, text in docs.items()
                if word in text
            ]
    return problems


def structural_fingerprint(project: Path, answers: dict[str, str]) -> str:
    """A hash of the tree with the cosmetic answers blanked out (the licence text, the
    Python version): two combinations that differ only by tool choices get the same hash
    exactly when those choices render nothing different."""
    version = answers.get("python_version", "")
    licence = answers.get("license", "").lower().encode()
    digest = hashlib.sha256()
    for path in rendered_files(project):
        relative = path.relative_to(project).as_posix()
        if relative in {".copier-answers.yml", "LICENSE"}:
            continue
        lines = path.read_bytes().splitlines()
        content = b"\n".join(line for line in lines if not licence or licence not in line.lower())
        if version:
            for text in (version, "py" + version.replace(".", "")):
                content = content.replace(text.encode(), b"<python>")
        digest.update(relative.encode() + b"\0" + content + b"\0")
    return digest.hexdigest()[:16]


def engine_differences(by_copier: Path, by_cookiecutter: Path) -> list[str]:
    """What Cookiecutter's render of a combination has that Copier's has not, or otherwise."""
    copied = tree_bytes(by_copier, ignore=COPIER_ONLY)
    baked = tree_bytes(by_cookiecutter)
    if copied == baked:
        return []
    common = copied.keys() & baked.keys()
    return [
        f"{by_copier.name}: only cookiecutter {sorted(baked.keys() - copied.keys())}, "
        f"only copier {sorted(copied.keys() - baked.keys())}, "
        f"different {sorted(k for k in common if copied[k] != baked[k])}"
    ]


@pytest.mark.parametrize("shard", range(SHARDS), ids=lambda i: f"shard{i + 1}of{SHARDS}")
def test_every_combination_renders_and_passes_static_checks(
    shard: int,
    cookies: Any,  # pytest-cookies' fixture; its type is not public
    copier_source: Path,
    tmp_path: Path,
    record_property: RecordProperty,
) -> None:
    projects = []
    problems: list[str] = []
    for combination in shards(matrix(), SHARDS)[shard]:
        answers = dict(combination)
        project = render_copier(copier_source, answers, tmp_path / combination_id(combination))
        assert (project / ".copier-answers.yml").is_file()
        projects.append(project)
        problems += foreign_tool_files(project, answers)
        problems += foreign_tracker_docs(project, answers)
        problems += [f"{project.name}: empty directory {d}" for d in empty_directories(project)]
        record_property("tree", structural_fingerprint(project, answers))
        # Both engines render the same snapshot of the template (see copier_source).
        baked = cookies.bake(extra_context=answers, template=str(copier_source / "template"))
        assert baked.exception is None, f"{project.name}: {baked.exception}"
        assert baked.exit_code == 0
        problems += engine_differences(project, Path(baked.project_path))
        problems += [
            f"{project.name}: cookiecutter left empty directory {d}"
            for d in empty_directories(Path(baked.project_path))
        ]
    problems += check_all(projects)
    record_property("combinations", len(projects))
    assert not problems, "\n".join(problems)


# Every value of the questions whose answers render Python (the defaults once).
TOOL_ANSWERS = [
    (question, value)
    for question in ("tracker", "orchestrator", "compute", "cloud")
    for value in choices(question)
    if question == "tracker" or value != defaults()[question]
]


@pytest.mark.parametrize(("question", "value"), TOOL_ANSWERS)
def test_the_longest_allowed_names_still_render_lint_clean_code(
    question: str, value: str, copier_source: Path, tmp_path: Path
) -> None:
    """Line lengths depend on the package name: a project named as long as the validator
    allows must still pass ruff (check and format), like the default one, whatever tool
    writes Python beside it (every validator for the trackers' renders, ruff for the rest)."""
    assert (len(LONGEST_SLUG), len(LONGEST_NAME)) == (32, 60)
    answers = {"project_slug": LONGEST_SLUG, "project_name": LONGEST_NAME, question: value}
    project = render_copier(copier_source, answers, tmp_path / "long")
    checks = check_all if question == "tracker" else static_checks.ruff
    assert checks([project]) == []
