"""Terraform as python-hcl2 parses it, made plain: what the cloud tests read resources from."""

from __future__ import annotations

import re
from typing import Any


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
