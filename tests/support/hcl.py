"""Terraform as python-hcl2 parses it, made plain: what the cloud tests read resources from."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hcl2


@functools.cache
def parsed(text: str) -> dict[str, Any]:
    """python-hcl2's document of a Terraform file's text, parsed once per content in a
    process: the cloud checks read the same files in many roots, and parsing is slow. Callers
    must not change it (`plain` copies it)."""
    document: dict[str, Any] = hcl2.loads(text)
    return document


def plain(value: Any) -> Any:
    """python-hcl2 keeps the quotes of keys and strings: drop them."""
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    if isinstance(value, dict):
        # python-hcl2's own markers and comments (__is_block__, __comments__, ...) go too.
        return {plain(k): plain(v) for k, v in value.items() if not k.startswith("__")}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def block(body: dict[str, Any], *path: str) -> dict[str, Any]:
    """A nested block (python-hcl2 gives each as a one-element list)."""
    for key in path:
        value = body[key]
        body = value[0] if isinstance(value, list) else value
    return body


class Unknown(Exception):
    """An expression needs what only a plan knows (a data source, a function, an attribute)."""


def evaluate(value: Any, variables: dict[str, Any], local_values: dict[str, Any]) -> Any:
    """A Terraform expression of this template's simple kind (`${...}` over `var.` and
    `local.` with `!`, `&&`, `||`, `==`, `!=`, `null` and one `c ? a : b`), evaluated for
    these variables; a literal is itself. Raises Unknown for anything else."""
    if not (isinstance(value, str) and value.startswith("${") and value.endswith("}")):
        return value
    text = value[2:-1].strip()
    if " ? " in text:
        condition, rest = text.split(" ? ", 1)
        yes, no = rest.split(" : ", 1)
        chosen = yes if evaluate("${" + condition + "}", variables, local_values) else no
        return evaluate("${" + chosen + "}", variables, local_values)
    python = re.sub(r"\bvar\.(\w+)", r"var_['\1']", text)
    python = re.sub(r"\blocal\.(\w+)", r"local_('\1')", python)
    python = python.replace("&&", " and ").replace("||", " or ").replace("!=", "<>")
    python = python.replace("!", " not ").replace("<>", "!=")
    python = re.sub(r"\bnull\b", "None", python)
    python = re.sub(r"\btrue\b", "True", re.sub(r"\bfalse\b", "False", python))

    def local_(name: str) -> Any:
        return evaluate(local_values[name], variables, local_values)

    try:  # the template's own Terraform, translated above, with no builtins to reach
        return eval(python, {"__builtins__": {}}, {"var_": variables, "local_": local_})
    except (NameError, SyntaxError, KeyError, TypeError) as error:
        raise Unknown(f"{value}: {error}") from error


Resources = dict[tuple[str, str], dict[str, Any]]


class Terraform:
    """One rendered root: its resources, locals and variables' defaults."""

    def __init__(self, root: Path, **variables: Any) -> None:
        self.resources: Resources = {}
        self.locals: dict[str, Any] = {}
        self.variables: dict[str, Any] = {}
        for path in sorted(root.glob("*.tf")):
            document = plain(parsed(path.read_text(encoding="utf-8")))
            for section in document.get("resource", []):
                for kind, named in section.items():
                    for name, body in named.items():
                        self.resources[kind, name] = body
            for section in document.get("locals", []):
                self.locals.update(section)
            for section in document.get("variable", []):
                for name, body in section.items():
                    self.variables[name] = body.get("default")
        unknown = set(variables) - set(self.variables)
        assert not unknown, f"{root} declares no variable {unknown}"
        self.variables.update(variables)

    def value(self, expression: Any) -> Any:
        return evaluate(expression, self.variables, self.locals)

    def present(self, body: dict[str, Any]) -> bool:
        """The resource exists for these variables (its count, if any, is not 0)."""
        return "count" not in body or bool(self.value(body["count"]))

    def blocks(self, body: dict[str, Any], name: str) -> Iterator[dict[str, Any]]:
        """The blocks `name` of a body: static ones, and the content of dynamic ones that
        iterate over anything for these variables."""
        yield from body.get(name, [])
        for dynamic in body.get("dynamic", []):
            if name in dynamic and self.value(dynamic[name]["for_each"]):
                yield from dynamic[name]["content"]

    def of_kind(self, kind: str) -> Iterator[dict[str, Any]]:
        for (each, _), body in self.resources.items():
            if each == kind and self.present(body):
                yield body
