"""Bad answers are rejected by both engines with the same clear message, leaving no files.

Copier runs the validators of options.yml; Cookiecutter runs the very same text in the
generated pre-gen hook. Unknown choice values are refused by each engine itself, in its
own words, naming the bad value.

One limit is Cookiecutter's own: it creates the project directory before any hook runs,
so a slug with a path separator ("a/b") leaves the empty parent directory "a" behind
(no files), and an explicitly empty slug is refused by Cookiecutter itself ("directory
already exists") before the hook can explain. Copier validates before writing anything.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from cookiecutter.exceptions import FailedHookException, OutputDirExistsException
from cookiecutter.main import cookiecutter

from support.rendering import TEMPLATE, render_copier

NOT_A_PACKAGE = "is not a valid package name"
SHADOWS = "would shadow the Python keyword or module"
BAD_EMAIL = "is not a valid e-mail address"

BAD_ANSWERS: list[tuple[str, str, str]] = [
    ("project_name", "", "project_name must not be empty"),
    ("project_name", "   ", "project_name must not be empty"),
    ("project_name", 'The "Best" Model', "project_name must not contain double quotes"),
    ("project_name", "back\\slash", "project_name must not contain double quotes or backslashes"),
    ("project_name", "Model " * 11, "project_name is too long (66 characters): use at most 60"),
    ("project_slug", "", "project_slug must not be empty"),
    ("project_slug", " ", NOT_A_PACKAGE),
    ("project_slug", "1st_model", NOT_A_PACKAGE),
    ("project_slug", "_private", NOT_A_PACKAGE),
    ("project_slug", "Credit_Risk", NOT_A_PACKAGE),
    ("project_slug", "credit risk", NOT_A_PACKAGE),
    ("project_slug", "credit-risk", NOT_A_PACKAGE),
    ("project_slug", "model.v2", NOT_A_PACKAGE),
    ("project_slug", "crédit", NOT_A_PACKAGE),
    ("project_slug", "модель", NOT_A_PACKAGE),
    ("project_slug", "a/b", NOT_A_PACKAGE),
    ("project_slug", "a\\b", NOT_A_PACKAGE),
    ("project_slug", "../escape", NOT_A_PACKAGE),
    ("project_slug", "a" * 33, "is too long (33 characters): use at most 32"),
    ("project_slug", "class", SHADOWS),
    ("project_slug", "import", SHADOWS),
    ("project_slug", "match", SHADOWS),
    ("project_slug", "test", SHADOWS),
    ("project_slug", "tests", SHADOWS),
    ("project_slug", "json", SHADOWS),
    ("project_slug", "os", SHADOWS),
    ("project_slug", "typing", SHADOWS),
    ("project_slug", "mlflow", SHADOWS),
    ("project_slug", "sklearn", SHADOWS),
    ("project_slug", "pandas", SHADOWS),
    ("project_slug", "src", SHADOWS),
    ("description", 'Say "hello"', "description must not contain double quotes"),
    ("author_name", "", "author_name must not be empty"),
    ("author_name", "  ", "author_name must not be empty"),
    ("author_email", "", BAD_EMAIL),
    ("author_email", "no-at-sign", BAD_EMAIL),
    ("author_email", "name@localhost", BAD_EMAIL),
    ("author_email", "@example.com", BAD_EMAIL),
    ("author_email", "name@", BAD_EMAIL),
    ("author_email", "a b@example.com", BAD_EMAIL),
    ("author_email", "a@@example.com", BAD_EMAIL),
    ("author_email", "name@.example.com", BAD_EMAIL),
    ("author_email", "name@example.", BAD_EMAIL),
    ("author_email", "jöhn@example.com", BAD_EMAIL),
]

BAD_CHOICES = [
    ("tracker", "tensorboard"),
    ("orchestrator", "luigi"),
    ("cloud", "oracle"),
    ("ci", "jenkins"),
    ("python_version", "3.10"),
    ("license", "GPL-3.0"),
]


def test_the_table_is_large_enough() -> None:
    assert len(BAD_ANSWERS) + len(BAD_CHOICES) >= 30


def answer_id(value: object) -> str:
    return repr(value) if isinstance(value, str) else str(value)


def rejected_by_copier(answers: dict[str, str], tmp_path: Path, copier_source: Path) -> str:
    destination = tmp_path / "copier-out"
    with pytest.raises(ValueError, match=r"Validation error|Invalid choice") as error:
        render_copier(copier_source, answers, destination)
    assert not destination.exists(), "Copier left files behind after rejecting the answers"
    return str(error.value)


def rejected_by_cookiecutter(
    answers: dict[str, str], tmp_path: Path, expected: type[Exception]
) -> None:
    output = tmp_path / "cookiecutter-out"
    output.mkdir()
    with pytest.raises(expected):
        cookiecutter(str(TEMPLATE), no_input=True, extra_context=answers, output_dir=str(output))
    left = [p for p in output.rglob("*") if not p.is_dir()]
    assert not left, f"Cookiecutter left files behind after rejecting the answers: {left}"


@pytest.mark.parametrize(("question", "value", "message"), BAD_ANSWERS, ids=answer_id)
def test_both_engines_reject_a_bad_answer_with_the_same_message(
    question: str,
    value: str,
    message: str,
    copier_source: Path,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
) -> None:
    answers = {question: value}
    copier_message = rejected_by_copier(answers, tmp_path, copier_source)
    assert f"Validation error for question '{question}': " in copier_message
    assert message in copier_message

    capfd.readouterr()
    if (question, value) == ("project_slug", ""):
        rejected_by_cookiecutter(answers, tmp_path, OutputDirExistsException)
        return
    rejected_by_cookiecutter(answers, tmp_path, FailedHookException)
    hook_output = capfd.readouterr().err
    # Copier stops at the first bad answer; the hook reports them all, so it must
    # contain Copier's message word for word.
    assert copier_message in hook_output


@pytest.mark.parametrize(("question", "value"), BAD_CHOICES, ids=answer_id)
def test_both_engines_reject_an_unknown_choice_naming_it(
    question: str, value: str, copier_source: Path, tmp_path: Path
) -> None:
    copier_message = rejected_by_copier({question: value}, tmp_path, copier_source)
    assert f"Invalid choice for '{question}'" in copier_message
    assert repr(value) in copier_message
    output = tmp_path / "cookiecutter-out"
    output.mkdir()
    with pytest.raises(ValueError, match=f"{value} provided for choice variable {question}"):
        cookiecutter(
            str(TEMPLATE), no_input=True, extra_context={question: value}, output_dir=str(output)
        )
    assert not any(output.iterdir())
