"""The template's specification: options.yml (the questions) and layout.yml (what each
answer owns and means), loaded and checked in one place.

The generator (sync_options.py), the benchmark and the tests all read the two files through
this module, so they can never disagree on what a question's values are or on what
layout.yml must declare. It needs PyYAML and nothing else of the repository.
"""

from __future__ import annotations

import fnmatch
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
OPTIONS = ROOT / "options.yml"
LAYOUT = ROOT / "layout.yml"
PROJECT_TEMPLATE = ROOT / "template" / "{{cookiecutter.project_slug}}"

# A question as options.yml writes it (Copier's format: type, help, default, choices, ...).
Question = dict[str, Any]


class SpecError(SystemExit):
    """options.yml or layout.yml breaks a rule: one line naming the file and the key."""


def choice_values(spec: Question) -> list[str] | None:
    """The values of a choice question (labels dropped), or None for free text."""
    choices = spec.get("choices")
    if choices is None:
        return None
    return [str(v) for v in (choices.values() if isinstance(choices, dict) else choices)]


def matches(pattern: str, relative: str) -> bool:
    """gitignore-style, as `_exclude` reads layout.yml's paths: the pattern names the path
    or one of its parent directories."""
    parts = relative.split("/")
    return any(fnmatch.fnmatchcase("/".join(parts[:n]), pattern) for n in range(1, len(parts) + 1))


def load_questions() -> dict[str, Question]:
    """The questions of options.yml, in order; each must be a mapping with a `type`."""
    questions: dict[str, Question] = yaml.safe_load(OPTIONS.read_text(encoding="utf-8"))
    for name, spec in questions.items():
        if not isinstance(spec, dict) or "type" not in spec:
            raise SpecError(f"options.yml: question {name!r} needs a mapping with a 'type'")
    return questions


def load_layout(questions: dict[str, Question] | None = None) -> dict[str, Any]:
    """layout.yml, checked against the questions it speaks of (options.yml's, unless given):
    `owns` lists every value of a choice question, `nothing` names values of them, and each
    derived value starts with `__` and (when mapped `from` a question) maps all its values."""
    questions = load_questions() if questions is None else questions
    layout: dict[str, Any] = yaml.safe_load(LAYOUT.read_text(encoding="utf-8"))
    for question, owned in layout["owns"].items():
        values = choice_values(questions.get(question, {}))
        if values is None:
            raise SpecError(f"layout.yml: owns: {question!r} is not a choice question")
        if sorted(owned) != sorted(values):
            raise SpecError(
                f"layout.yml: owns: {question} must list exactly its values {values}, "
                f"not {list(owned)}"
            )
    for entry in layout.get("nothing", []):
        question, _, value = str(entry).partition("=")
        if value not in (choice_values(questions.get(question, {})) or []):
            raise SpecError(f"layout.yml: nothing: {entry!r} is no value of a choice question")
    for name, spec in layout["derived"].items():
        if not name.startswith("__"):
            raise SpecError(f"layout.yml: derived value {name!r} must start with '__'")
        if "from" in spec and sorted(spec["values"]) != sorted(
            choice_values(questions[spec["from"]]) or []
        ):
            raise SpecError(f"layout.yml: {name} must map every value of {spec['from']}")
    return layout
