"""layout.yml tells the truth about the renders, and no choice is hollow.

For every value of every question layout.yml speaks of, one project is rendered with that
value (the other answers at their defaults, except where a path can only exist under
another answer, e.g. a GitLab file needs ci=gitlab). Then:

* every path the value owns is rendered, and none is rendered for a value that does not
  own it (the declaration drives `_exclude` and the hook; this proves the result);
* no value is hollow: each renders a path of its own (one no other value of the question
  renders), except those layout.yml lists under `nothing` (a value meaning "no tool"),
  which render none of the others' paths;
* no render holds an empty directory (excluding a tool's place takes its emptied parent too);
* and no document claims a choice is not implemented yet.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from support.rendering import (
    ROOT,
    choices,
    defaults,
    empty_directories,
    layout,
    matches,
    questions,
    render_copier,
    rendered_files,
)

NOT_YET = "not implemented yet"


def owned(question: str) -> dict[str, list[str]]:
    return {
        str(value): [str(p) for p in paths] for value, paths in layout()["owns"][question].items()
    }


def exclusive(question: str, value: str) -> list[str]:
    """The paths only `value` owns among the values of its question."""
    others = {p for v, paths in owned(question).items() if v != value for p in paths}
    return [p for p in owned(question)[value] if p not in others]


def present(project: Path, pattern: str) -> bool:
    return any(matches(pattern, p.relative_to(project).as_posix()) for p in rendered_files(project))


def answers_for(question: str, value: str, pattern: str | None = None) -> dict[str, str]:
    """`question=value`, and, when `pattern` lies in (or is) another answer's place (a file
    under .gitlab/ needs ci=gitlab), that answer; every other question at its default."""
    answers = {**defaults(), question: value}
    for other in layout()["owns"]:
        for other_value, paths in owned(other).items():
            if (
                other != question
                and pattern is not None
                and any(pattern == p or pattern.startswith(p.rstrip("/") + "/") for p in paths)
            ):
                answers[other] = other_value
    return answers


class Renders:
    """Projects rendered on demand, one per distinct set of answers."""

    def __init__(self, source: Path, root: Path) -> None:
        self.source, self.root = source, root
        self.done: dict[tuple[tuple[str, str], ...], Path] = {}

    def __call__(self, answers: dict[str, str]) -> Path:
        key = tuple(sorted(answers.items()))
        if key not in self.done:
            name = "-".join(v for _, v in key)
            self.done[key] = render_copier(self.source, answers, self.root / name)
        return self.done[key]


@pytest.fixture(scope="module")
def render(copier_source: Path, tmp_path_factory: pytest.TempPathFactory) -> Renders:
    return Renders(copier_source, tmp_path_factory.mktemp("layout"))


def test_the_declaration_covers_every_value_of_the_questions_it_names() -> None:
    for question, values in layout()["owns"].items():
        assert sorted(values) == sorted(choices(question)), question
    for entry in layout()["nothing"]:
        question, _, value = entry.partition("=")
        assert value in choices(question), f"layout.yml names an unknown value: {entry}"


def test_every_owned_path_renders_for_its_owners_only(render: Renders) -> None:
    problems = []
    for question in layout()["owns"]:
        patterns = {p for paths in owned(question).values() for p in paths}
        for value in choices(question):
            for pattern in sorted(patterns):
                found = present(render(answers_for(question, value, pattern)), pattern)
                if pattern in owned(question)[value] and not found:
                    problems.append(f"{question}={value} owns {pattern}, not rendered")
                if pattern not in owned(question)[value] and found:
                    problems.append(f"{question}={value} renders {pattern}, not its own")
    assert not problems, "\n".join(problems)


def hollow_values(render: Renders) -> set[str]:
    return {
        f"{q}={v}"
        for q in layout()["owns"]
        for v in choices(q)
        if not any(present(render(answers_for(q, v, p)), p) for p in exclusive(q, v))
    }


def test_no_choice_is_hollow(render: Renders) -> None:
    """Every value renders a path of its own, and no render leaves an empty directory
    (the renders are those of every value of every question)."""
    hollow = hollow_values(render) - set(layout()["nothing"])
    assert not hollow, f"render nothing of their own: {sorted(hollow)}"
    empty = {
        f"{project.name}: {directory}"
        for project in render.done.values()
        for directory in empty_directories(project)
    }
    assert not empty, f"empty directories: {sorted(empty)}"


def test_values_that_mean_no_tool_render_no_tool(render: Renders) -> None:
    """A value in layout.yml `nothing` owns no path, and its render has none of the paths
    of the question's other values."""
    for entry in layout()["nothing"]:
        question, _, value = entry.partition("=")
        assert owned(question)[value] == [], entry
        for other in choices(question):
            for pattern in exclusive(question, other):
                project = render(answers_for(question, value, pattern))
                assert not present(project, pattern), f"{entry} renders {pattern}"


def help_texts(question: str) -> dict[str, str]:
    """Each value's label in options.yml."""
    spec = questions()[question]["choices"]
    return {str(v): str(label) for label, v in spec.items()} if isinstance(spec, dict) else {}


@pytest.mark.parametrize("document", ["options.yml", "README.md", "docs/questions.md"])
def test_no_document_says_a_choice_is_not_implemented_yet(document: str) -> None:
    """Every choice renders its own files (above), so a help text or a page that still says
    one is missing is out of date."""
    text = (ROOT / document).read_text(encoding="utf-8")
    stale = [line for line in text.splitlines() if NOT_YET in line.lower()]
    assert not stale, f"{document}: {stale}"
    if document == "options.yml":
        for question in layout()["owns"]:
            labels = help_texts(question).values()
            assert not [label for label in labels if NOT_YET in label.lower()], question
