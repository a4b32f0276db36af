"""Compile each Jinja template source once per test process, however many renders use it.

Copier and Cookiecutter each build a new Jinja environment for every render, and Jinja
caches compiled templates per environment, so every combination the tests render compiled
every template file and every path name again: 57 % of a matrix shard's time (cProfile,
28 combinations: 79 of 139 s in `Environment.compile`). The compiled code of a source is
the same for every environment that parses and generates alike, and a compiled template
reads filters, globals and answers at render time from the environment it is bound to, so
one compilation serves them all. What a render writes is unchanged: the matrix's engine
parity check still compares Copier's tree with Cookiecutter's byte for byte.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Hashable
from types import CodeType
from typing import Any

from jinja2 import Environment
from jinja2.utils import _PassArg

# What decides how a source is tokenized (jinja2.lexer.get_lexer keys its cache on these).
LEXER_SETTINGS = (
    "block_start_string", "block_end_string", "variable_start_string", "variable_end_string",
    "comment_start_string", "comment_end_string", "line_statement_prefix",
    "line_comment_prefix", "trim_blocks", "lstrip_blocks", "newline_sequence",
    "keep_trailing_newline",
)  # fmt: skip

Compile = Callable[..., str | CodeType]


def _passes(functions: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
    """Each filter's or test's name and what it is passed (context, environment, ...): the
    code generator emits a call by that."""
    return tuple(sorted((name, _PassArg.from_obj(f)) for name, f in functions.items()))


def _generation(environment: Environment) -> Hashable:
    """Everything of `environment` that the parser and the code generator read: the lexer's
    settings, the extensions (their tags), the sandbox (its class intercepts operators),
    optimization, async mode, finalize, the filters' and tests' calling conventions and the
    policies."""
    finalize = environment.finalize
    return (
        type(environment),
        *(getattr(environment, setting) for setting in LEXER_SETTINGS),
        tuple(sorted(environment.extensions)),
        environment.optimized,
        environment.is_async,
        None if finalize is None else _PassArg.from_obj(finalize),
        _passes(environment.filters),
        _passes(environment.tests),
        repr(sorted(environment.policies.items())),
    )


def install() -> None:
    """Replace `Environment.compile` with a cached one, for the rest of this process."""
    original: Compile = Environment.compile
    if getattr(original, "cached", False):
        return
    generations: weakref.WeakKeyDictionary[Environment, tuple[int, int, Hashable]] = (
        weakref.WeakKeyDictionary()
    )
    compiled: dict[Hashable, str | CodeType] = {}

    def generation(environment: Environment) -> Hashable:
        # Computed once per environment, again if filters or tests were added since.
        sizes = (len(environment.filters), len(environment.tests))
        known = generations.get(environment)
        if known is None or known[:2] != sizes:
            known = (*sizes, _generation(environment))
            generations[environment] = known
        return known[2]

    def cached_compile(
        self: Environment,
        source: Any,
        name: str | None = None,
        filename: str | None = None,
        raw: bool = False,
        defer_init: bool = False,
    ) -> str | CodeType:
        if not isinstance(source, str):  # an already parsed node tree: not worth a key
            return original(self, source, name, filename, raw, defer_init)
        # Autoescaping may depend on the template's name (select_autoescape).
        autoescape = self.autoescape(name) if callable(self.autoescape) else self.autoescape
        key = (generation(self), autoescape, source, name, filename, raw, defer_init)
        code = compiled.get(key)
        if code is None:  # a syntax error raises here, and nothing is cached
            code = compiled[key] = original(self, source, name, filename, raw, defer_init)
        return code

    cached_compile.cached = True  # type: ignore[attr-defined]
    Environment.compile = cached_compile  # type: ignore[method-assign,assignment]
