"""Terraform as python-hcl2 parses it, made plain: what the cloud tests read resources from."""

from __future__ import annotations

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
