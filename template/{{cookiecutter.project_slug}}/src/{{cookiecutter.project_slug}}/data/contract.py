"""The data contract: contract.yaml, loaded and checked once, drives data validation, the
model's inputs and derived features, the evaluation slices, the fairness checks and the
API's request model.

Add or change a column in contract.yaml and ingest validation (pandera), the model's inputs,
the serving API's request model (pydantic) and its OpenAPI documentation follow. A contract
that does not hold together (an unknown dtype or role, a derived formula that is not plain
arithmetic, a slice of a missing column, ...) is refused when it is loaded, in one line
naming the file and the key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd
import pandera.pandas as pa
import yaml
from pandera.errors import SchemaErrors
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from ..config import CONTRACT_FILE, ENV_PREFIX, PARAMS_FILE, ConfigurationError
from .contract_file import DTYPES, ContractFile, describe_problem
from .expressions import Formula, compile_formula


class ContractError(ConfigurationError):
    """contract.yaml is missing or invalid; the message is one line naming the file and key."""


@dataclass(frozen=True)
class Column:
    """One column of the contract."""

    name: str
    description: str
    dtype: type[int] | type[float] | type[str]
    categories: tuple[str, ...] = ()
    ge: float | None = None
    le: float | None = None
    nullable: bool = False
    role: str = "feature"  # contract_file.Role

    @property
    def model_input(self) -> bool:
        """Served and fed to the model; every other role is validated but kept out of it."""
        return self.role == "feature"


@dataclass(frozen=True)
class Slice:
    """Groups of a numeric column: bucket i holds edges[i] <= value < edges[i + 1]."""

    column: str
    edges: tuple[float, ...]
    labels: tuple[str, ...]

    def groups(self, values: pd.Series) -> pd.Series:
        buckets = pd.cut(values, bins=list(self.edges), labels=list(self.labels), right=False)
        return buckets.astype(str)


@dataclass(frozen=True)
class Costs:
    """What each wrong decision costs (contract.yaml `costs`; equal when it is absent)."""

    false_positive: float = 1.0  # a negative-class row decided positive (e.g. granted)
    false_negative: float = 1.0  # a positive-class row decided negative (e.g. refused)


@dataclass(frozen=True)
class Contract:
    """contract.yaml, checked and ready to use."""

    path: Path
    task: Literal["binary", "multiclass", "regression"]
    row_noun: str
    target: Column
    # The class names in label order (label i is class_names[i]); none for regression.
    class_names: tuple[str, ...]
    positive_class: str  # binary: the name of the class the model scores (granted); else ""
    negative_class: str
    class_meanings: Mapping[str, str]
    columns: tuple[Column, ...]
    derived: Mapping[str, Formula]
    slices: Mapping[str, Slice]
    fairness: tuple[str, ...]
    costs: Costs
    # The cost of deciding any other class for a row of each class (equal when absent).
    class_costs: Mapping[str, float]
    intended_use: str
    caveats: tuple[str, ...]
    expectations: Mapping[str, tuple[Any, ...]]
    known_weak_inputs: tuple[str, ...] | None  # None: not reviewed yet
    example: Mapping[str, Any]


def load_contract(path: Path) -> Contract:
    """Read and check the contract at `path`; raises ContractError (one line)."""
    if not path.is_file():
        raise ContractError(
            f"{path}: data contract not found (keep it beside {PARAMS_FILE}, or point "
            f"{ENV_PREFIX}CONTRACT at it)"
        )
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        spec = ContractFile.model_validate(raw)
    except yaml.YAMLError as error:
        where = getattr(error, "problem_mark", None)
        line = f" (line {where.line + 1})" if where is not None else ""
        raise ContractError(f"{path}{line}: not valid YAML") from None
    except ValidationError as error:
        problems = (describe_problem(path, problem) for problem in error.errors())
        raise ContractError("; ".join(problems)) from None
    numeric_features = frozenset(
        name for name, c in spec.columns.items() if c.role == "feature" and c.dtype != "str"
    )
    derived: dict[str, Formula] = {}
    for name, text in spec.derived.items():
        try:
            derived[name] = compile_formula(text, numeric_features)
        except ValueError as error:
            raise ContractError(f"{path}: derived.{name}: {error}") from None
    classes = spec.target.classes
    names = tuple(classes[label].name for label in sorted(classes))
    positive_name = negative_name = ""
    costs = Costs()
    if spec.task == "binary":
        (negative,) = (label for label in classes if label != spec.target.positive)
        positive_name, negative_name = classes[1].name, classes[negative].name
        if spec.costs:
            costs = Costs(spec.costs[negative_name], spec.costs[positive_name])
    target = (
        Column(spec.target.name, spec.target.description, float)
        if spec.task == "regression"
        else Column(spec.target.name, spec.target.description, int,
                    ge=min(classes), le=max(classes))
    )  # fmt: skip
    contract = Contract(
        path=path,
        task=spec.task,
        row_noun=spec.row_noun,
        target=target,
        class_names=names,
        positive_class=positive_name,
        negative_class=negative_name,
        class_meanings={c.name: c.meaning for c in classes.values()},
        columns=tuple(
            Column(name, c.description, DTYPES[c.dtype], tuple(c.categories), c.ge, c.le,
                   c.nullable, c.role)
            for name, c in spec.columns.items()
        ),
        derived=derived,
        slices={name: Slice(s.column, tuple(s.edges), tuple(s.labels or s.default_labels()))
                for name, s in spec.slices.items()},
        fairness=tuple(spec.fairness),
        costs=costs,
        class_costs={name: spec.costs.get(name, 1.0) for name in names},
        intended_use=spec.model_card.intended_use,
        caveats=tuple(spec.model_card.caveats),
        expectations={name: tuple(values) for name, values in spec.expectations.items()},
        known_weak_inputs=(
            None if spec.known_weak_inputs is None else tuple(spec.known_weak_inputs)
        ),
        example=dict(spec.example),
    )  # fmt: skip
    try:
        request_model(contract)(**contract.example)
    except ValidationError as error:
        problems = (describe_problem(path, p, prefix=("example",)) for p in error.errors())
        raise ContractError("; ".join(problems)) from None
    for name, values in contract.expectations.items():
        for value in values:  # each a valid value of its input
            try:
                request_model(contract)(**{**contract.example, name: value})
            except ValidationError as error:
                where = ("expectations", name)
                problems = (describe_problem(path, p, prefix=where) for p in error.errors())
                raise ContractError("; ".join(problems)) from None
    return contract


def _field(column: Column) -> tuple[Any, Any]:
    annotation: Any = Literal[column.categories] if column.categories else column.dtype
    if column.nullable:
        annotation = annotation | None
    return annotation, Field(description=column.description, ge=column.ge, le=column.le)


def request_model(contract: Contract) -> type[BaseModel]:
    """The API's request model: one row, the model inputs only (anything else is refused)."""
    fields: dict[str, Any] = {c.name: _field(c) for c in contract.columns if c.model_input}
    examples: list[Any] = [dict(contract.example)]
    return create_model(
        contract.row_noun.title().replace(" ", ""),
        __config__=ConfigDict(extra="forbid", json_schema_extra={"examples": examples}),
        __doc__=f"One {contract.row_noun} as the API receives it: the model inputs of the "
        "contract only.",
        **fields,
    )


CONTRACT = load_contract(CONTRACT_FILE)

# A binary model outputs P(target = positive class); tasks/binary.py turns it into a
# cost-weighted decision, named after the classes where it leaves the project (the API).
# A multiclass or regression contract leaves both names empty (tasks/ decides for those).
TARGET = CONTRACT.target
POSITIVE_CLASS = CONTRACT.positive_class
NEGATIVE_CLASS = CONTRACT.negative_class
COSTS = CONTRACT.costs
if TYPE_CHECKING:  # the decision's values are only known once the contract is read
    Decision = str
else:  # a regression model decides nothing: its Decision is never used
    Decision = Literal[CONTRACT.class_names] if CONTRACT.class_names else str

COLUMNS = CONTRACT.columns
MODEL_INPUTS = tuple(c.name for c in COLUMNS if c.model_input)
CATEGORICAL_INPUTS = tuple(c.name for c in COLUMNS if c.model_input and c.categories)
NUMERIC_INPUTS = tuple(c.name for c in COLUMNS if c.model_input and not c.categories)
# The attributes whose groups the fairness checks compare (sensitive columns and slices).
SENSITIVE_ATTRIBUTES = CONTRACT.fairness
ROWS = f"{CONTRACT.row_noun}s"


def check_fairness_bounds(bounds: Mapping[str, float]) -> None:
    """Every fairness attribute of the contract has a bound in the gate (params.yaml), or
    ConfigurationError: an attribute without one would never be checked."""
    ungated = set(SENSITIVE_ATTRIBUTES) - set(bounds)
    if ungated:
        raise ConfigurationError(
            f"{PARAMS_FILE}: gate.max_demographic_parity_difference has no bound for "
            f"{sorted(ungated)}: every fairness attribute of {CONTRACT.path} needs one"
        )


class DataContractError(ValueError):
    """The data breaks the contract; the message lists every violation."""

    def one_line(self, shown: int = 3) -> str:
        """`<file>: N data contract violation(s): <the first `shown`>` (the CLI's error line;
        --verbose shows them all)."""
        heading, *violations = str(self).splitlines()
        first = [line.removeprefix("- ") for line in violations[:shown]]
        more = "; ... (--verbose lists them all)" if len(violations) > shown else ""
        return f"{heading.removesuffix(':')}: {'; '.join(first)}{more}"


def _checks(column: Column) -> list[pa.Check]:
    checks = []
    if column.categories:
        checks.append(pa.Check.isin(column.categories))
    if column.ge is not None:
        checks.append(pa.Check.ge(column.ge))
    if column.le is not None:
        checks.append(pa.Check.le(column.le))
    return checks


def dataframe_schema(*, with_target: bool = True, inputs_only: bool = False) -> pa.DataFrameSchema:
    """The pandera schema of a batch: labelled (training data), unlabelled (to score), or
    model inputs only (as the API receives them: no protected attributes)."""
    columns = [c for c in COLUMNS if c.model_input or not inputs_only]
    if with_target:
        columns.insert(0, TARGET)
    return pa.DataFrameSchema(
        {c.name: pa.Column(c.dtype, _checks(c), nullable=c.nullable, description=c.description)
         for c in columns},
        strict=True,
        coerce=True,
        name=f"labelled_{ROWS}" if with_target else ROWS,
    )  # fmt: skip


def _describe(case: Any) -> str:
    if case.schema_context == "DataFrameSchema":  # a table-level problem, e.g. a column
        return f"- {case.check}: {case.failure_case!r}"
    row = f" (row {int(case.index)})" if pd.notna(case.index) else ""
    return f"- column {case.column!r}: {case.check} failed for value {case.failure_case!r}{row}"


def validate(
    frame: pd.DataFrame,
    *,
    with_target: bool = True,
    inputs_only: bool = False,
    source: object = "the batch",
) -> pd.DataFrame:
    """Validate (and coerce) a batch (read from `source`), or raise DataContractError
    listing every problem."""
    schema = dataframe_schema(with_target=with_target, inputs_only=inputs_only)
    try:
        return schema.validate(frame, lazy=True)
    except SchemaErrors as errors:
        cases = errors.failure_cases
        lines = [_describe(row) for row in cases.head(20).itertuples()]
        more = f"\n... and {len(cases) - 20} more" if len(cases) > 20 else ""
        raise DataContractError(
            f"{source}: {len(cases)} data contract violation(s):\n" + "\n".join(lines) + more
        ) from None


# A valid request body: shown in the API docs and used by the tests.
EXAMPLE: dict[str, Any] = dict(CONTRACT.example)


if TYPE_CHECKING:  # a static stand-in: type checkers cannot follow create_model

    class Row(BaseModel):
        """One row as the API receives it."""

else:
    Row = request_model(CONTRACT)
