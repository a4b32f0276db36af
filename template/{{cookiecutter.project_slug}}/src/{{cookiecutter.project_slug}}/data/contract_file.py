"""The shape of contract.yaml (pydantic models): every key, its type and the rules that tie
keys together (a slice names a column, a fairness attribute is sensitive, ...). contract.py
loads the file with them."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Role = Literal["feature", "sensitive", "ignored", "identifier", "event_time"]
# A column's `dtype` in contract.yaml, and the Python type of its values.
DTYPES: Mapping[str, type[int] | type[float] | type[str]] = {"int": int, "float": float, "str": str}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ColumnSpec(_Strict):
    dtype: Literal["int", "float", "str"]
    description: str
    categories: list[str] = []
    ge: int | float | None = None  # an int bound stays one (pandera names it in reports)
    le: int | float | None = None
    nullable: bool = False
    role: Role


class TargetClass(_Strict):
    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    meaning: str


class TargetSpec(_Strict):
    name: str
    description: str
    # Binary only: the label of the class the model scores (the granting decision).
    positive: int | None = None
    # Classification only (binary, multiclass): label -> class; a regression target has none.
    classes: dict[int, TargetClass] = {}


class SliceSpec(_Strict):
    column: str
    edges: list[int | float] = Field(min_length=2)
    labels: list[str] | None = None

    def default_labels(self) -> list[str]:
        return [f"[{low}, {high})" for low, high in zip(self.edges, self.edges[1:], strict=False)]


class CardSpec(_Strict):
    intended_use: str = ""
    caveats: list[str] = []


class ContractFile(_Strict):
    task: Literal["binary", "multiclass", "regression"]
    row_noun: str = Field(min_length=1, description="What one row is, e.g. customer.")
    target: TargetSpec
    columns: dict[str, ColumnSpec] = Field(min_length=1)
    derived: dict[str, str] = {}
    slices: dict[str, SliceSpec] = {}
    # The attributes the fairness checks compare; none when no sensitive column is declared.
    fairness: list[str] = []
    # The cost of a wrong decision about a row of each class (keyed by class name): deciding
    # any other class for it (classification only).
    costs: dict[str, float] = {}
    # What the model card says the model is for, and what to keep in mind using it.
    model_card: CardSpec = CardSpec()
    # Domain knowledge the tests hold the model to: values of one input, in the order that
    # should raise the positive class's probability.
    expectations: dict[str, list[int | float | str]] = {}
    # Inputs reviewed and kept although no better than noise on held-out data; absent (as
    # `adopt` leaves it) while that review is still to be done.
    known_weak_inputs: list[str] | None = None
    example: dict[str, Any]

    @model_validator(mode="after")
    def _holds_together(self) -> ContractFile:
        for problem in (
            self._task_problem(),
            *self._column_problems(),
            *self._slice_problems(),
            *self._fairness_problems(),
            *self._cost_problems(),
            *self._input_problems(),
        ):
            if problem:
                raise ValueError(problem)
        return self

    def _task_problem(self) -> str | None:
        classes = self.target.classes
        if self.task == "regression":
            if classes or self.target.positive is not None:
                return "target: a regression target has no classes nor positive class"
            return None
        if len({c.name for c in classes.values()}) != len(classes):
            return "target.classes: each class needs its own name"
        if self.task == "multiclass":
            if len(classes) < 3:
                return f"target.classes: a multiclass target has 3 or more, not {len(classes)}"
            if set(classes) != set(range(len(classes))):
                return "target.classes: a multiclass target is labelled 0 to k-1 (relabel the data)"
            if self.target.positive is not None:
                return "target.positive: only a binary target names the class it scores"
            return None
        if len(classes) != 2:
            return f"target.classes: a binary target has 2 classes, not {len(classes)}"
        if set(classes) != {0, 1}:
            return "target.classes: a binary target is labelled 0 and 1 (relabel the data)"
        if self.target.positive != 1:
            # The model scores P(label = 1), the class sklearn orders last.
            return "target.positive: 1 is the class the model scores (relabel the data)"
        return None

    def _column_problems(self) -> list[str]:
        problems = []
        if self.target.name in self.columns:
            problems.append(f"columns.{self.target.name}: the target is declared under target")
        for name, column in self.columns.items():
            if column.categories and column.dtype != "str":
                problems.append(f"columns.{name}.categories: only a str column has categories")
            if column.role == "feature" and column.dtype == "str" and not column.categories:
                problems.append(f"columns.{name}.categories: a str feature declares them")
        for name in self.derived:
            if name in self.columns or name == self.target.name:
                problems.append(f"derived.{name}: a column of that name exists")
        return problems

    def _slice_problems(self) -> list[str]:
        problems = []
        for name, spec in self.slices.items():
            where = f"slices.{name}"
            column = self.columns.get(spec.column)
            if name in self.columns or name in self.derived:
                problems.append(f"{where}: a column of that name exists")
            if column is None:
                problems.append(f"{where}.column: {spec.column!r} is not a column of the contract")
            elif column.dtype == "str":
                problems.append(f"{where}.column: {spec.column!r} is not numeric")
            elif (column.ge is not None and column.ge < spec.edges[0]) or (
                column.le is not None and column.le >= spec.edges[-1]
            ):
                problems.append(f"{where}.edges: they do not cover {spec.column}'s valid range")
            if any(low >= high for low, high in zip(spec.edges, spec.edges[1:], strict=False)):
                problems.append(f"{where}.edges: they must increase")
            if spec.labels is not None and len(spec.labels) != len(spec.edges) - 1:
                problems.append(f"{where}.labels: one label per bucket ({len(spec.edges) - 1})")
        return problems

    def _fairness_problems(self) -> list[str]:
        categorical = {n for n, c in self.columns.items() if c.categories}
        return [
            f"fairness: {name!r} is neither a categorical column nor a slice (numeric columns "
            "are checked through a slice of them)"
            for name in self.fairness
            if name not in categorical | set(self.slices)
        ]

    def _cost_problems(self) -> list[str]:
        names = {c.name for c in self.target.classes.values()}
        if self.costs and self.task == "regression":
            return ["costs: a regression model decides nothing, so no error has a cost"]
        if self.costs and set(self.costs) != names:
            return [
                f"costs: name the cost of each class's error, {sorted(names)} "
                f"(got {sorted(self.costs)})"
            ]
        return [f"costs.{name}: a cost is positive" for name, c in self.costs.items() if c <= 0]

    def _input_problems(self) -> list[str]:
        inputs = {n for n, c in self.columns.items() if c.role == "feature"}
        problems = [
            f"expectations.{name}: not a model input"
            for name in self.expectations
            if name not in inputs
        ]
        problems += [
            f"expectations.{name}: at least two values, in rising order of the score"
            for name, values in self.expectations.items()
            if len(values) < 2
        ]
        return problems + [
            f"known_weak_inputs: {name!r} is not a model input"
            for name in self.known_weak_inputs or ()
            if name not in inputs
        ]


def describe_problem(path: Path, problem: Mapping[str, Any], prefix: tuple[str, ...] = ()) -> str:
    """One validation problem as `<file>: <key>: <what is wrong> (got <value>)`."""
    key = ".".join(str(part) for part in (*prefix, *problem["loc"]))
    message = str(problem["msg"]).removeprefix("Value error, ")
    given = problem.get("input")
    got = f" (got {given!r})" if isinstance(given, str | int | float | bool) else ""
    if problem["type"] == "extra_forbidden":
        return f"{path}: {key}: unknown key"
    return f"{path}: {key}: {message}{got}" if key else f"{path}: {message}"
