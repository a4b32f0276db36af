"""The template keeps its Jinja where it belongs.

* Python sources carry no Jinja control flow, and only one of them chooses an adapter
  (`tracking/__init__.py` imports the chosen tracker's package): every other tool-specific
  value lives in params.yaml, the tool's own place or a derived value.
* Files every project shares branch on what a choice *means* (layout.yml's derived values,
  `cookiecutter.__x`), never on a tool question directly, and on each question at most once.
  Files that belong to one answer (layout.yml `owns`) are that tool's own business.
* The content questions (rendering.COSMETIC: the Python version, the licence) are the
  exception, by rule: they choose text, never files or tools, so a shared file may branch
  on them directly and as often as its text needs (LICENSE holds the four licences).
* Whether a file exists is layout.yml's business alone: no template path carries a Jinja
  condition in its name, except Copier's answers file, whose name is Copier's own setting
  (`_copier_conf.answers_file`, absent under Cookiecutter).
"""

from __future__ import annotations

import re

from support.rendering import COSMETIC, TEMPLATE, choice_questions, layout, matches

PROJECT = TEMPLATE / "{{cookiecutter.project_slug}}"
TAG = re.compile(r"{%-?\s*(if|elif|for)\b(.*?)-?%}", re.DOTALL)
EXPRESSION = re.compile(r"{{(.*?)}}", re.DOTALL)
NAME = re.compile(r"cookiecutter\.(\w+)")
# The one import that chooses an adapter.
SELECTION_IMPORT = "src/{{cookiecutter.project_slug}}/tracking/__init__.py"
# The one conditional name: Copier writes its answers file under the name it is configured
# with, and Cookiecutter (which has no `_copier_conf`) writes none.
ANSWERS_FILE = "{% if _copier_conf is defined %}{{ _copier_conf.answers_file }}{% endif %}"


def tool_questions() -> set[str]:
    return set(choice_questions()) - set(COSMETIC)


def questions_behind(name: str) -> set[str]:
    """The tool questions a namespace entry depends on (itself, or a derived value's)."""
    if name in tool_questions():
        return {name}
    spec = layout()["derived"].get(name)
    if spec is None:
        return set()
    if "from" in spec:
        return {spec["from"]}
    return {q for q in tool_questions() if re.search(rf"\b{q}\b", spec["expression"])}


def owned(relative: str) -> bool:
    """Does the path belong to one answer (layout.yml `owns`)?"""
    rendered = relative.replace("{{cookiecutter.project_slug}}", "x")
    return any(
        matches(str(pattern), rendered)
        for values in layout()["owns"].values()
        for paths in values.values()
        for pattern in paths
    )


def template_files() -> list[tuple[str, str]]:
    found = []
    for path in sorted(PROJECT.rglob("*")):
        if path.is_file() and path.suffix not in {".csv", ".ipynb"}:
            found.append((path.relative_to(PROJECT).as_posix(), path.read_text("utf-8")))
    return found


def test_python_sources_carry_no_jinja_logic_and_choose_one_adapter() -> None:
    problems = []
    selections = []
    for relative, text in template_files():
        if not relative.endswith(".py"):
            continue
        problems += [f"{relative}: {{% {m.group(1)} %}}" for m in TAG.finditer(text)]
        for expression in EXPRESSION.findall(text):
            chosen = {n for n in NAME.findall(expression) if questions_behind(n)}
            if chosen:
                selections.append(relative)
            if " if " in expression:
                problems.append(f"{relative}: inline if in {{{{{expression}}}}}")
    assert not problems, "\n".join(problems)
    assert selections == [SELECTION_IMPORT], f"tool-dependent Jinja in: {selections}"


def test_shared_files_branch_on_derived_values_at_most_once_per_question() -> None:
    problems = []
    for relative, text in template_files():
        if owned(relative):
            continue
        branches: dict[str, int] = {}
        conditions = [m.group(2) for m in TAG.finditer(text)] + [
            e for e in EXPRESSION.findall(text) if " if " in e
        ]
        for condition in conditions:
            # Content questions choose text, not tools: the rule above allows them.
            names = set(NAME.findall(condition)) - set(COSMETIC)
            problems += [
                f"{relative}: branches on the question {n!r}, not on what it means (a "
                f"derived value in layout.yml)"
                for n in names & tool_questions()
            ]
            for question in {q for n in names for q in questions_behind(n)}:
                branches[question] = branches.get(question, 0) + 1
        problems += [
            f"{relative}: branches {count} times on {question} (at most once)"
            for question, count in branches.items()
            if count > 1
        ]
    assert not problems, "\n".join(problems)


def test_whether_a_file_exists_is_declared_in_layout_yml_only() -> None:
    """One mechanism for conditional files: layout.yml `owns` (which generates `_exclude`
    and the post-gen hook); no name in the template tree carries a condition of its own,
    and the content questions own no paths."""
    conditional = sorted(
        path.relative_to(PROJECT).as_posix()
        for path in PROJECT.rglob("*")
        if "{%" in path.name and path.name != ANSWERS_FILE
    )
    assert not conditional, f"declare these in layout.yml `owns` instead: {conditional}"
    assert (PROJECT / ANSWERS_FILE).is_file()
    assert not set(COSMETIC) & set(layout()["owns"]), "a content question owns paths"


def test_the_checks_see_the_template() -> None:
    """The budget tests read real files: the project's tree and a known shared file."""
    files = dict(template_files())
    assert SELECTION_IMPORT in files
    assert "README.md" in files
    assert not owned("README.md")
    # A shared file that branches on a content question, as the rule allows.
    assert not owned("LICENSE")
    assert "{% elif cookiecutter.license ==" in files["LICENSE"]
    assert owned("src/{{cookiecutter.project_slug}}/tracking/mlflow_tracker/tracker.py")
