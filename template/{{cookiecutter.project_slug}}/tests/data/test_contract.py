"""ML Test Score, data tests: the contract, its enforcement and the feature code."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from pydantic import ValidationError

from {{ cookiecutter.project_slug }}.config import Settings
from {{ cookiecutter.project_slug }}.data import contract, ingest
from {{ cookiecutter.project_slug }}.data.expressions import compile_formula
from {{ cookiecutter.project_slug }}.data.features import (
    DERIVED,
    DERIVED_FEATURES,
    add_derived_features,
    build_preprocessor,
)

from ..contract_cases import (
    CATEGORICAL,
    CONTRACT_FILE,
    NO_CATEGORICAL,
    NO_DERIVED,
    NO_SENSITIVE,
    NO_SLICES,
    NOT_INPUTS,
    NUMERIC,
    SENSITIVE_COLUMNS,
    cases,
    require,
)

pytestmark = pytest.mark.data

CONTRACT = contract.CONTRACT
TARGET = contract.TARGET
# The derived features' formulas as the contract writes them.
FORMULAS: dict[str, str] = yaml.safe_load(CONTRACT.path.read_text("utf-8")).get("derived") or {}


@pytest.fixture(scope="module")
def raw(settings: Settings) -> pd.DataFrame:
    return ingest.load_raw(settings.data.raw_path)


def test_raw_data_satisfies_the_contract(raw: pd.DataFrame) -> None:
    """Data 1: feature expectations are captured in a schema, and the data meets them."""
    declared = [contract.TARGET.name, *(c.name for c in contract.COLUMNS)]
    assert sorted(raw.columns) == sorted(declared)  # in any order: the file's is kept
    with Settings().data.raw_path.open(encoding="utf-8") as lines:
        assert len(raw) == sum(1 for _ in lines) - 1 > 0  # every row kept (one header line)
    labels = set(raw[contract.TARGET.name])
    if contract.CONTRACT.class_names:  # a classifier's target holds its class labels
        assert labels == set(range(len(contract.CONTRACT.class_names)))


def _breakages() -> list[tuple[str, Any, str]]:
    """For each column of the contract, a value breaking each of its invariants (a bound,
    the categories, non-null), and the check that must report it."""
    found: list[tuple[str, Any, str]] = []
    for column in contract.COLUMNS:
        if column.ge is not None:
            found.append((column.name, column.ge - 1, f"greater_than_or_equal_to({column.ge})"))
        if column.le is not None:
            found.append((column.name, column.le + 1, f"less_than_or_equal_to({column.le})"))
        if column.categories:
            found.append((column.name, "never declared", "isin"))
    required = next((c.name for c in contract.COLUMNS if not c.nullable), None)
    if required is not None:
        found.append((required, None, "not_nullable"))
    if TARGET.le is None:  # a regression target: any number
        return found
    return [*found, (TARGET.name, TARGET.le + 1, f"less_than_or_equal_to({TARGET.le})")]


BREAKAGES = _breakages()


@pytest.mark.parametrize(("column", "value", "check"), BREAKAGES)
def test_contract_rejects_bad_values_with_a_readable_report(
    raw: pd.DataFrame, column: str, value: int | str | None, check: str
) -> None:
    """Data 1 / Monitoring 2: a batch breaking an invariant is refused, saying where and why."""
    batch = raw.head(10).copy()
    batch[column] = batch[column].astype(object)
    batch.loc[3, column] = value
    with pytest.raises(contract.DataContractError) as error:
        contract.validate(batch)
    report = str(error.value)
    assert f"column '{column}'" in report
    assert check in report


def test_contract_rejects_missing_and_unexpected_columns(raw: pd.DataFrame) -> None:
    """Data 1: the table's shape is part of the contract."""
    with pytest.raises(contract.DataContractError, match="column_in_dataframe"):
        contract.validate(raw.drop(columns=contract.COLUMNS[0].name))
    with pytest.raises(contract.DataContractError, match="column_in_schema"):
        contract.validate(raw.assign(customer_name="x"))


# Never model inputs: the sensitive columns, the fairness attributes and the columns their
# slices group (a fairness attribute used as an input would be checked and fed at once).
FAIRNESS_COLUMNS = {CONTRACT.slices[a].column for a in CONTRACT.fairness if a in CONTRACT.slices}
PROTECTED = {c.name for c in SENSITIVE_COLUMNS} | set(CONTRACT.fairness) | FAIRNESS_COLUMNS


def test_protected_attribute_is_never_a_model_input() -> None:
    """Data 4: features adhere to meta-level requirements (no protected attribute as input;
    each stays in the data for the fairness checks)."""
    require(PROTECTED, f"{NO_SENSITIVE} and no fairness attribute")
    assert not PROTECTED & set(contract.MODEL_INPUTS)
    preprocessor = build_preprocessor()
    frame = ingest.add_slices(contract.validate(pd.read_csv(Settings().data.raw_path).head(50)))
    names = preprocessor.fit(frame).get_feature_names_out()
    assert not [name for name in names if name.startswith((*PROTECTED, TARGET.name))]


def test_api_refuses_personal_data_it_does_not_need(raw: pd.DataFrame) -> None:
    """Data 5: the serving contract accepts the model inputs only (no protected attributes,
    no identifiers, no other column of the data), so the service cannot collect them."""
    contract.Row(**contract.EXAMPLE)
    extras = [{c.name: raw[c.name].tolist()[0]} for c in NOT_INPUTS]
    for extra in ({"name": "Jane Doe"}, *extras):
        with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
            contract.Row(**contract.EXAMPLE, **extra)


def test_every_contract_input_reaches_the_model(train_frame: pd.DataFrame) -> None:
    """Data 6: a new feature needs one declaration in the contract: the preprocessing picks up
    every model input of contract.yaml (plus the derived features) automatically."""
    names = set(build_preprocessor().fit(train_frame).get_feature_names_out())
    for column in contract.MODEL_INPUTS:
        assert any(name == column or name.startswith(f"{column}_") for name in names), column
    assert set(DERIVED) <= names


def test_formulas_compute_plain_arithmetic() -> None:
    """Data 7: the formula code (data/expressions.py) computes + - * / and a leading minus
    as arithmetic does, on DataFrames and on numpy columns alike."""
    formula = compile_formula("a / (b + 1) - -c * 2", frozenset({"a", "b", "c"}))
    frame = pd.DataFrame({"a": [7.0, 5.0], "b": [1.0, 4.0], "c": [1.0, -0.5]})
    assert formula(frame).tolist() == [5.5, 0.0]
    columns = {name: frame[name].to_numpy() for name in frame}
    np.testing.assert_array_equal(formula(columns), [5.5, 0.0])


@pytest.mark.parametrize("name", cases(DERIVED, NO_DERIVED))
def test_derived_features_are_computed_correctly(name: str, train_frame: pd.DataFrame) -> None:
    """Data 7: all input feature code is tested: each derived feature is its formula, as
    pandas evaluates it independently, and the inputs are left untouched."""
    frame = train_frame[list(contract.MODEL_INPUTS)].head(20)
    derived = add_derived_features(frame)
    expected = np.asarray(frame.eval(FORMULAS[name]), dtype=float)
    np.testing.assert_allclose(derived[name], expected, rtol=1e-12)
    assert list(derived.columns) == [*contract.MODEL_INPUTS, *DERIVED]
    assert list(frame.columns) == list(contract.MODEL_INPUTS)  # input untouched


@pytest.mark.parametrize("name", cases(DERIVED, NO_DERIVED))
def test_derived_features_are_the_same_on_numpy_columns(
    name: str, train_frame: pd.DataFrame
) -> None:
    """Data 7: the compiled serving path (numpy columns) derives what training derives."""
    frame = train_frame[list(contract.MODEL_INPUTS)].head(20)
    columns = {c.name: frame[c.name].to_numpy(dtype=float) for c in NUMERIC}
    np.testing.assert_allclose(
        DERIVED_FEATURES[name](columns), add_derived_features(frame)[name], rtol=1e-12
    )


@pytest.mark.parametrize("name", cases(list(CONTRACT.slices), NO_SLICES))
def test_slices_bucket_at_the_declared_edges(name: str) -> None:
    """Model 7: a slice the fairness gate checks groups values as declared (the contract's
    edges, each group from its lower edge up to, not including, the next one)."""
    spec = CONTRACT.slices[name]
    bounds = list(zip(spec.edges, spec.edges[1:], strict=False))
    values = [v for low, high in bounds for v in (low, float(np.nextafter(high, low)))]
    groups = ingest.add_slices(pd.DataFrame({spec.column: values}))[name].tolist()
    assert groups == [label for label in spec.labels for _ in range(2)]


Spec = dict[str, Any]  # contract.yaml as YAML reads it
FIRST = CONTRACT.columns[0].name
NUMERIC_COLUMN = next((c.name for c in CONTRACT.columns if not c.categories), None)
# A formula names columns as Python names: "mean radius" cannot appear in one.
NUMERIC_INPUT = next((c.name for c in NUMERIC if c.name.isidentifier()), None)


def _set(path: str, value: Any) -> Callable[[Spec], None]:
    """An edit of the contract: set the key at `path` (dot-separated) to `value`."""

    def edit(spec: Spec) -> None:
        *parents, key = path.split(".")
        for parent in parents:
            spec = spec.setdefault(parent, {})
        spec[key] = value

    return edit


def _defects() -> list[Any]:
    """A defect planted in a copy of contract.yaml, and the key its one-line error must
    name; a defect that needs what the contract lacks is skipped, saying so."""
    classes = sorted(CONTRACT.class_meanings)

    def needs(value: object, reason: str) -> Any:
        return () if value else (pytest.mark.skip(reason=reason),)

    return [
        pytest.param(_set(f"columns.{FIRST}.dtype", "integer"),
                     f"columns.{FIRST}.dtype: Input should be 'int', 'float' or 'str'", id="dtype"),
        pytest.param(_set(f"columns.{FIRST}.role", "protected"),
                     f"columns.{FIRST}.role: Input should be 'feature', 'sensitive', ", id="role"),
        pytest.param(_set("derived.broken", f"log({NUMERIC_INPUT})"),
                     "derived.broken: only column names, numbers and + - * / are allowed, not a "
                     f"call (log({NUMERIC_INPUT}))", id="derived-call",
                     marks=needs(NUMERIC_INPUT, f"{CONTRACT_FILE} declares no numeric input "
                                 "named as a Python identifier")),
        pytest.param(_set("derived.broken", f"{TARGET.name} / 2"),
                     f"derived.broken: {TARGET.name!r} is not a numeric feature column",
                     id="derived-from-a-non-input"),
        pytest.param(_set("slices.broken", {"column": "not_a_column", "edges": [0, 1]}),
                     "slices.broken.column: 'not_a_column' is not a column of the contract",
                     id="slice-of-a-missing-column"),
        pytest.param(_set("target.positive", 0),
                     "target.positive: 1 is the class the model scores", id="positive-class-0",
                     marks=needs(CONTRACT.task == "binary", f"{CONTRACT_FILE} declares task "
                                 f"{CONTRACT.task}: only binary scores a positive class")),
        pytest.param(*(
            (_set("task", "multiclass"), "target.classes: a multiclass target has 3 or more")
            if CONTRACT.task == "regression" else
            (_set("task", "regression"), "target: a regression target has no classes")
        ), id="task-that-does-not-fit-the-target"),
        pytest.param(_set("fairness", [*CONTRACT.fairness, NUMERIC_COLUMN]),
                     f"fairness: {NUMERIC_COLUMN!r} is neither a categorical column nor a slice",
                     id="fairness-of-a-numeric-column",
                     marks=needs(NUMERIC_COLUMN, f"{CONTRACT_FILE} declares no numeric column")),
        pytest.param(_set("costs", {(classes or ["a"])[0]: 5.0}),
                     "costs: name the cost of each class's error", id="costs-of-one-class",
                     marks=needs(classes, f"{CONTRACT_FILE} declares task: {CONTRACT.task}; a "
                                 "regressor decides nothing, so no error has a cost")),
        pytest.param(_set("expectations", {TARGET.name: [0, 1]}),
                     f"expectations.{TARGET.name}: not a model input", id="expectation-not-input"),
        pytest.param(_set("example.not_an_input", 1),
                     "example.not_an_input: unknown key", id="bad-example"),
    ]  # fmt: skip


CONTRACT_DEFECTS = _defects()


@pytest.mark.parametrize(("edit", "message"), CONTRACT_DEFECTS)
def test_a_broken_contract_is_refused_in_one_line_naming_the_file_and_key(
    tmp_path: Path, edit: Callable[[Spec], None], message: str
) -> None:
    """Data 1: the contract itself is checked when it is loaded: a wrong type, an unknown
    role, code in a derived formula or a slice of a missing column is refused at once,
    naming the file and the key, instead of failing somewhere downstream."""
    spec = yaml.safe_load(CONTRACT.path.read_text(encoding="utf-8"))
    edit(spec)
    broken = tmp_path / "contract.yaml"
    broken.write_text(yaml.safe_dump(spec), encoding="utf-8")
    with pytest.raises(contract.ContractError) as error:
        contract.load_contract(broken)
    assert str(error.value).startswith(str(broken))
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_a_contract_that_is_not_yaml_is_refused_in_one_line(tmp_path: Path) -> None:
    """Data 1: a contract YAML cannot parse is refused naming the file and the line."""
    text = CONTRACT.path.read_text(encoding="utf-8")
    task = f"task: {CONTRACT.task}"
    assert text.count(task) == 1
    broken = tmp_path / "contract.yaml"
    broken.write_text(text.replace(task, f"task: [{CONTRACT.task}"), encoding="utf-8")
    with pytest.raises(contract.ContractError, match=r"\): not valid YAML$") as error:
        contract.load_contract(broken)
    assert str(error.value).startswith(str(broken))


def test_preprocessing_handles_unseen_categories_and_yields_finite_values(
    train_frame: pd.DataFrame,
) -> None:
    """Data 7: the feature pipeline is total: an unseen category encodes to zeros, not an error."""
    require(CATEGORICAL, NO_CATEGORICAL)
    name = CATEGORICAL[-1].name
    preprocessor = build_preprocessor().fit(train_frame)
    unseen = train_frame.head(3).assign(**{name: "never seen"})
    features = np.asarray(preprocessor.transform(unseen), dtype=float)
    assert np.isfinite(features).all()
    encoded = [
        i for i, n in enumerate(preprocessor.get_feature_names_out()) if n.startswith(f"{name}_")
    ]
    assert encoded
    assert not features[:, encoded].any()


def test_split_is_stratified_and_deterministic(raw: pd.DataFrame) -> None:
    """Infrastructure 1 (data side): the same seed gives the same split, with the label
    balance of the whole set in both parts (a classifier's: the split is stratified)."""
    first_train, first_test = ingest.split(raw, 0.2, seed=7)
    second_train, _ = ingest.split(raw, 0.2, seed=7)
    pd.testing.assert_frame_equal(first_train, second_train)
    assert len(first_test) == math.ceil(0.2 * len(raw))
    if CONTRACT.task == "regression":  # no classes to stratify on
        return
    target = TARGET.name
    for label in range(len(CONTRACT.class_names)):
        share = (first_test[target] == label).mean() - (raw[target] == label).mean()
        assert abs(share) < max(0.01, 1.5 / len(first_test)), label


def test_the_written_splits_part_the_raw_rows(
    raw: pd.DataFrame, train_frame: pd.DataFrame, holdout_frame: pd.DataFrame
) -> None:
    """Infrastructure 1 (data side), no leakage: every raw row is in exactly one of the
    splits ingest writes, so no held-out row is trained on. Rows are compared as a multiset
    of the raw columns' values: a dataset may hold identical rows."""
    columns = list(raw.columns)

    def rows(frame: pd.DataFrame) -> list[tuple[str, ...]]:
        return [tuple(row) for row in frame[columns].astype(str).to_numpy().tolist()]

    assert len(train_frame) + len(holdout_frame) == len(raw)
    assert sorted(rows(train_frame) + rows(holdout_frame)) == sorted(rows(raw))


def test_current_batch_is_valid_data_that_has_shifted(
    holdout_frame: pd.DataFrame, current_frame: pd.DataFrame, settings: Settings
) -> None:
    """Monitoring 2: the replayed production batch keeps the contract yet differs in
    distribution (so drift monitoring has something real to find): against the held-out
    rows it was drawn from, every numeric input grew (overall by a fifth or more, or by a
    fifth of the room below its upper bound where that is less), and every categorical
    input has its two most frequent categories swapped."""
    contract.validate(current_frame.drop(columns=list(CONTRACT.slices)))
    share, seed = settings.data.current_size, settings.seed
    drawn = holdout_frame.sample(frac=share, random_state=seed).reset_index(drop=True)
    for column in NUMERIC:
        before, after = drawn[column.name].abs(), current_frame[column.name].abs()
        assert (after >= before).all(), column.name
        room = np.inf if column.le is None else (column.le - drawn[column.name]).sum()
        assert after.sum() - before.sum() > 0.2 * min(before.sum(), room), column.name
    for column in CATEGORICAL:
        counts = holdout_frame[column.name].value_counts().sort_index()
        first, second = counts.sort_values(ascending=False, kind="stable").index[:2]
        swapped = drawn[column.name].replace({first: "_", second: first}).replace("_", second)
        assert current_frame[column.name].tolist() == swapped.tolist(), column.name
