"""Derive every engine-specific file from options.yml and layout.yml.

options.yml holds the questions in Copier's format; layout.yml declares what each answer
owns and what each choice means (derived values). From them this script writes:

* template/cookiecutter.json: the same questions for Cookiecutter (default choice first,
  help texts in `__prompts__`, LF line endings);
* the generated block at the end of copier.yml: `_exclude` (the paths of every answer not
  chosen) and the never-asked `cookiecutter` question, a JSON object of all answers and
  derived values, so template files use one namespace (`cookiecutter.x`) in both engines
  and Copier needs neither extensions nor `--trust`;
* template/hooks/pre_gen_project.py: the validators of options.yml, verbatim, for
  Cookiecutter to render and run (same Jinja, hence the same messages as Copier);
* template/hooks/post_gen_project.py: the same `_exclude` lines, verbatim, so Cookiecutter
  removes the same paths.

Usage: python scripts/sync_options.py [--check]
`--check` writes nothing and exits 1 when a generated file is stale.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import re
import sys
from pathlib import Path
from typing import Any

from template_spec import (
    PROJECT_TEMPLATE,
    ROOT,
    Question,
    choice_values,
    load_layout,
    load_questions,
    matches,
)

COPIER = ROOT / "copier.yml"
COOKIECUTTER_JSON = ROOT / "template" / "cookiecutter.json"
PRE_GEN = ROOT / "template" / "hooks" / "pre_gen_project.py"
POST_GEN = ROOT / "template" / "hooks" / "post_gen_project.py"
GENERATED_MARKER = "# ---- Generated from options.yml by scripts/sync_options.py"


def as_text(result: str | list[str]) -> str:
    """A derived result as text; a list becomes the items of a TOML array."""
    return ", ".join(json.dumps(item) for item in result) if isinstance(result, list) else result


def derived_expression(spec: dict[str, Any]) -> str:
    """A derived value as one Jinja expression over the answers (question names bare)."""
    if "expression" in spec:
        return str(spec["expression"])
    pairs = spec["values"].items()
    mapping = ", ".join(f"{value!r}: {as_text(result)!r}" for value, result in pairs)
    return f"{{{mapping}}}[{spec['from']}]"


def chosen_in(question: str, values: list[str], negate: bool = False) -> str:
    """`cookiecutter.<question>` is one of `values` (or, negated, none of them)."""
    if len(values) == 1:
        return f"cookiecutter.{question} {'!=' if negate else '=='} {values[0]!r}"
    listed = "[" + ", ".join(map(repr, values)) + "]"
    return f"cookiecutter.{question} {'not in' if negate else 'in'} {listed}"


def exclude_patterns(layout: dict[str, Any]) -> list[str]:
    """`_exclude` lines: fixed ignores, each owned path unless its owner is chosen, then the
    directories that exclusion would leave empty."""
    lines = [str(p) for p in layout["ignore"]]
    for question, owned in layout["owns"].items():
        owners: dict[str, list[str]] = {}
        for value, paths in owned.items():
            for path in paths:
                owners.setdefault(str(path), []).append(str(value))
        for path, values in owners.items():
            lines.append(
                f"{{% if {chosen_in(question, values, negate=True)} %}}{path}{{% endif %}}"
            )
    return lines + emptied_directories(layout)


# When a file exists: for each question that owns it (or one of its directories), the values
# under which it does. Empty: a shared file, rendered whatever the answers.
Presence = frozenset[tuple[str, tuple[str, ...]]]


def presence(layout: dict[str, Any], relative: str) -> Presence:
    owners: dict[str, list[str]] = {}
    for question, owned in layout["owns"].items():
        for value, paths in owned.items():
            if any(matches(str(path), relative) for path in paths):
                owners.setdefault(question, []).append(str(value))
    return frozenset((question, tuple(values)) for question, values in owners.items())


def emptied_directories(layout: dict[str, Any]) -> list[str]:
    """`_exclude` lines for the template directories whose every file belongs to answers
    (e.g. orchestration/, the orchestrators' places): each is excluded when none of its
    files is rendered, so that no render holds an empty directory. Both engines exclude
    a path without touching its parent; this is where the parent goes too."""
    ignored = [str(p) for p in layout["ignore"]]
    files = [
        path.relative_to(PROJECT_TEMPLATE).as_posix()
        for path in sorted(PROJECT_TEMPLATE.rglob("*"))
        if path.is_file()
        and not any(fnmatch.fnmatchcase(part, p) for part in path.parts for p in ignored)
    ]
    directories = sorted(
        {"/".join(f.split("/")[:n]) for f in files for n in range(1, f.count("/") + 1)}
    )
    lines = []
    for directory in directories:
        if "{" in directory:  # a name the answers render (src/<package>): shared code
            continue
        below = {presence(layout, f) for f in files if f.startswith(directory + "/")}
        if presence(layout, directory) in below:  # a file exists whenever the directory does
            continue
        questions = {question for condition in below for question, _ in condition}
        if all(len(condition) == 1 for condition in below) and len(questions) == 1:
            (question,) = questions
            order = list(layout["owns"][question])
            values = sorted({v for ((_, vs),) in below for v in vs}, key=order.index)
            test = chosen_in(question, values, negate=True)
        else:
            test = (
                "not ("
                + " or ".join(
                    "(" + " and ".join(chosen_in(q, list(vs)) for q, vs in sorted(c)) + ")"
                    for c in sorted(below, key=sorted)
                )
                + ")"
            )
        lines.append(f"{{% if {test} %}}/{directory}{{% endif %}}")
    return lines


STRING_LITERAL = re.compile(r"""('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")""")


def to_cookiecutter_namespace(text: str, names: list[str]) -> str:
    """Rewrite references to other questions inside Jinja tags as `cookiecutter.<name>`
    (string literals inside the tags are left alone)."""
    pattern = re.compile(r"(?<![\w.])(" + "|".join(map(re.escape, names)) + r")\b")

    def rewrite(code: str) -> str:
        parts = STRING_LITERAL.split(code)  # odd indices are the literals
        return "".join(
            part if i % 2 else pattern.sub(r"cookiecutter.\1", part) for i, part in enumerate(parts)
        )

    return re.sub(
        r"({{|{%)(.*?)(}}|%})",
        lambda m: m.group(1) + rewrite(m.group(2)) + m.group(3),
        text,
        flags=re.DOTALL,
    )


def cookiecutter_json(questions: dict[str, Question], layout: dict[str, Any]) -> str:
    names = list(questions)
    context: dict[str, Any] = {}
    prompts: dict[str, Any] = {}
    for name, spec in questions.items():
        values = choice_values(spec)
        help_text = " ".join(str(spec.get("help", name)).split())
        if values is None:
            context[name] = to_cookiecutter_namespace(str(spec.get("default", "")), names)
            prompts[name] = help_text
        else:
            default = str(spec.get("default", values[0]))
            context[name] = [default] + [v for v in values if v != default]
            labels = spec["choices"]
            prompt: dict[str, str] = {"__prompt__": help_text}
            if isinstance(labels, dict):
                prompt.update({str(v): str(label) for label, v in labels.items()})
            prompts[name] = prompt
    for name, spec in layout["derived"].items():
        expression = to_cookiecutter_namespace(f"{{{{ {derived_expression(spec)} }}}}", names)
        context[name] = expression
    context["__prompts__"] = prompts
    context["_new_lines"] = "\n"
    return json.dumps(context, indent=2, ensure_ascii=False) + "\n"


def copier_generated_block(questions: dict[str, Question], layout: dict[str, Any]) -> str:
    pairs = ", ".join(
        [f'"{name}": {name}' for name in questions]
        + [f'"{name}": ({derived_expression(spec)})' for name, spec in layout["derived"].items()]
    )
    excludes = "".join(f"  - {json.dumps(line)}\n" for line in exclude_patterns(layout))
    return (
        f"{GENERATED_MARKER}: do not edit by hand ----\n"
        "# Paths of the answers not chosen (layout.yml `owns`), and fixed ignores.\n"
        f"_exclude:\n{excludes}"
        "# The `cookiecutter` namespace the template files use, with layout.yml's derived\n"
        "# values; never asked, never stored.\n"
        "cookiecutter:\n"
        "  type: json\n"
        "  when: false\n"
        f"  default: >-\n    {{{{ {{{pairs}}} | tojson }}}}\n"
    )


def copier_yml(questions: dict[str, Question], layout: dict[str, Any]) -> str:
    text = COPIER.read_text(encoding="utf-8")
    head, marker, _ = text.partition(GENERATED_MARKER)
    if not marker:
        raise SystemExit(f"copier.yml: marker line {GENERATED_MARKER!r} not found")
    return head + copier_generated_block(questions, layout)


def pre_gen_hook(questions: dict[str, Question]) -> str:
    bindings = "\n".join(f"{{%- set {name} = cookiecutter.{name} %}}" for name in questions)
    checks = "\n".join(
        f'    "{name}": {{% filter tojson %}}{spec["validator"]}{{% endfilter %}},'
        for name, spec in questions.items()
        if spec.get("validator")
    )
    return f'''"""Reject bad answers before Cookiecutter writes anything.

Generated from options.yml by scripts/sync_options.py: do not edit by hand. Cookiecutter
renders this file with Jinja before running it, so each message below is produced by the
very validator text Copier runs, and both engines say the same thing.
"""

import sys

{bindings}
MESSAGES = {{
{checks}
}}

failed = False
for question, message in MESSAGES.items():
    if message.strip():
        print(f"Validation error for question '{{question}}': {{message.strip()}}", file=sys.stderr)
        failed = True
sys.exit(1 if failed else 0)
'''


def post_gen_hook(layout: dict[str, Any]) -> str:
    patterns = "\n".join(exclude_patterns(layout))
    return f'''"""Remove the files and directories of tools that were not chosen.

Generated from layout.yml by scripts/sync_options.py: do not edit by hand. Cookiecutter
renders the patterns below with the same Jinja Copier uses for its `_exclude`.
"""

import shutil
from pathlib import Path

PATTERNS = """
{patterns}
"""


def matches(pattern: str) -> list[Path]:
    """Paths a gitignore-style pattern selects (a bare name matches at any depth)."""
    pattern = pattern.strip().rstrip("/")
    if "/" in pattern:
        return sorted(Path().glob(pattern.lstrip("/")))
    return sorted(Path().rglob(pattern))


for line in PATTERNS.splitlines():
    if line.strip():
        for path in matches(line):
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()
'''


def expected_files() -> dict[Path, str]:
    questions = load_questions()
    layout = load_layout(questions)
    return {
        COOKIECUTTER_JSON: cookiecutter_json(questions, layout),
        COPIER: copier_yml(questions, layout),
        PRE_GEN: pre_gen_hook(questions),
        POST_GEN: post_gen_hook(layout),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if a file is stale")
    args = parser.parse_args(argv)
    stale = []
    for path, content in expected_files().items():
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == content:
            continue
        stale.append(path.relative_to(ROOT))
        if not args.check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content, encoding="utf-8", newline="\n")
    if stale:
        verb = "stale" if args.check else "updated"
        print("\n".join(f"{verb}: {p}" for p in stale), file=sys.stderr)
        if args.check:
            print("run: uv run python scripts/sync_options.py", file=sys.stderr)
    return 1 if (stale and args.check) else 0


if __name__ == "__main__":
    sys.exit(main())
