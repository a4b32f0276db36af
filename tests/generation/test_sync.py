"""Files generated from options.yml are up to date (and the generator is idempotent)."""

from __future__ import annotations

import json
import subprocess
import sys

from support.rendering import ROOT, TEMPLATE, choice_questions, choices, questions


def test_generated_files_are_up_to_date() -> None:
    result = subprocess.run(
        [sys.executable, "scripts/sync_options.py", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_cookiecutter_json_asks_the_same_questions_with_the_same_defaults() -> None:
    context = json.loads((TEMPLATE / "cookiecutter.json").read_text(encoding="utf-8"))
    asked = [k for k in context if not k.startswith("_")]
    assert asked == list(questions())
    for name in choice_questions():
        assert context[name][0] == str(questions()[name]["default"])
        assert sorted(context[name]) == sorted(choices(name))
    assert context["_new_lines"] == "\n"
    assert set(context["__prompts__"]) == set(questions())


def test_every_question_explains_itself() -> None:
    for name, spec in questions().items():
        assert len(str(spec.get("help", "")).split()) >= 5, f"{name} needs help text"
