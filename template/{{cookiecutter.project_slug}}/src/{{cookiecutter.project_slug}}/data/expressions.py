"""Derived-feature formulas of the contract: arithmetic on columns, parsed with `ast` and
never evaluated as Python, so a contract cannot run code.

A formula such as `amount / duration` allows column names, numbers, parentheses and
+ - * / (and a leading minus). The compiled formula takes any mapping of columns that
supports arithmetic: a DataFrame (training) and a dict of numpy arrays (the compiled serving
path, serving/scorer.py) give the same result.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Mapping
from typing import Any

# Takes columns by name: a DataFrame or a mapping of arrays (typed Any: both qualify).
Formula = Callable[[Any], Any]

_BINARY: Mapping[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
}
_UNARY: Mapping[type[ast.unaryop], Callable[[Any], Any]] = {
    ast.USub: operator.neg,
    ast.UAdd: operator.pos,
}


class ExpressionError(ValueError):
    """The formula is not restricted arithmetic on known columns."""


def _what(node: ast.AST) -> str:
    """How a refused piece of a formula reads in the error message."""
    kinds = {ast.Call: "a call", ast.Attribute: "an attribute", ast.Subscript: "a subscript"}
    kind = next((name for cls, name in kinds.items() if isinstance(node, cls)), None)
    return f"{kind or type(node).__name__} ({ast.unparse(node)})"


def _compile(node: ast.AST, columns: frozenset[str]) -> Formula:
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        apply = _BINARY[type(node.op)]
        left, right = _compile(node.left, columns), _compile(node.right, columns)
        return lambda values: apply(left(values), right(values))
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        negate, operand = _UNARY[type(node.op)], _compile(node.operand, columns)
        return lambda values: negate(operand(values))
    if isinstance(node, ast.Name):
        if node.id not in columns:
            raise ExpressionError(
                f"{node.id!r} is not a numeric feature column (one of {sorted(columns)})"
            )
        name = node.id
        return lambda values: values[name]
    if (
        isinstance(node, ast.Constant)
        and isinstance(node.value, int | float)
        and not isinstance(node.value, bool)
    ):
        number = node.value
        return lambda _: number
    raise ExpressionError(f"only column names, numbers and + - * / are allowed, not {_what(node)}")


def compile_formula(text: str, columns: frozenset[str]) -> Formula:
    """The formula `text` as a function of columns; raises ExpressionError for anything but
    arithmetic on `columns`."""
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError:
        raise ExpressionError(f"not an arithmetic expression: {text!r}") from None
    return _compile(tree.body, columns)
