"""ML Test Score, data tests: the contract, its enforcement and the feature code."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from {{ cookiecutter.project_slug }}.config import Settings
from {{ cookiecutter.project_slug }}.data import contract, ingest
from {{ cookiecutter.project_slug }}.data.features import (
    DERIVED,
    DERIVED_FEATURES,
    add_derived_features,
    build_preprocessor,
)

pytestmark = pytest.mark.data


@pytest.fixture(scope="module")
def raw(settings: Settings) -> pd.DataFrame:
    return ingest.load_raw(settings.data.raw_path)


def test_raw_data_satisfies_the_contract(raw: pd.DataFrame) -> None:
    """Data 1: feature expectations are captured in a schema, and the data meets them."""
    assert list(raw.columns) == [contract.TARGET.name, *(c.name for c in contract.COLUMNS)]
    assert len(raw) == 1000
    assert set(raw[contract.TARGET.name]) == {0, 1}


BREAKAGES = [
    ("age", 7, "greater_than_or_equal_to(18)"),
    ("age", 101, "less_than_or_equal_to(100)"),
    ("duration", 0, "greater_than_or_equal_to(1)"),
    ("duration", 121, "less_than_or_equal_to(120)"),
    ("credit_amount", -50, "greater_than_or_equal_to(1)"),
    ("credit_amount", 1_000_001, "less_than_or_equal_to(1000000)"),
    ("job", 4, "less_than_or_equal_to(3)"),
    ("housing", "castle", "isin"),
    ("purpose", "crypto", "isin"),
    ("checking_account", None, "not_nullable"),
    ("risk", 2, "less_than_or_equal_to(1)"),
]


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
        contract.validate(raw.drop(columns="age"))
    with pytest.raises(contract.DataContractError, match="column_in_schema"):
        contract.validate(raw.assign(customer_name="x"))


PROTECTED = ("sex", "age", "age_group")  # pinned here: never model inputs


def test_protected_attribute_is_never_a_model_input() -> None:
    """Data 4: features adhere to meta-level requirements (no protected attribute, sex or
    age, as input; both stay in the data for the fairness checks)."""
    assert not set(PROTECTED) & set(contract.MODEL_INPUTS)
    preprocessor = build_preprocessor()
    frame = ingest.add_slices(contract.validate(pd.read_csv(Settings().data.raw_path).head(50)))
    names = preprocessor.fit(frame).get_feature_names_out()
    assert not [name for name in names if name.startswith((*PROTECTED, "risk"))]


def test_api_refuses_personal_data_it_does_not_need() -> None:
    """Data 5: the serving contract accepts the model inputs only (no protected attributes,
    no identifiers), so the service cannot collect them."""
    contract.Applicant(**contract.EXAMPLE)
    for extra in ({"sex": "female"}, {"name": "Jane Doe"}):
        with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
            contract.Applicant(**contract.EXAMPLE, **extra)


def test_every_contract_input_reaches_the_model(train_frame: pd.DataFrame) -> None:
    """Data 6: a new feature needs one declaration in the contract: the preprocessing picks up
    every model input of contract.yaml (plus the derived features) automatically."""
    names = set(build_preprocessor().fit(train_frame).get_feature_names_out())
    for column in contract.MODEL_INPUTS:
        assert any(name == column or name.startswith(f"{column}_") for name in names), column
    assert set(DERIVED) <= names


def test_derived_features_are_computed_correctly() -> None:
    """Data 7: all input feature code is tested."""
    frame = pd.DataFrame({"credit_amount": [1200, 500], "duration": [12, 10]})
    derived = add_derived_features(frame)
    assert derived["monthly_installment"].tolist() == [100.0, 50.0]
    assert list(derived.columns) == ["credit_amount", "duration", *DERIVED]
    assert list(frame.columns) == ["credit_amount", "duration"]  # input untouched


def test_derived_features_are_the_same_on_numpy_columns() -> None:
    """Data 7: the compiled serving path (numpy columns) derives what training derives."""
    columns = {"credit_amount": np.array([1200.0, 500.0]), "duration": np.array([12.0, 10.0])}
    derived = DERIVED_FEATURES["monthly_installment"](columns)
    np.testing.assert_array_equal(derived, [100.0, 50.0])


def test_age_groups_bucket_at_the_declared_edges() -> None:
    """Model 7: the age slice the fairness gate checks groups ages as it always has (the
    contract's edges, each group from its lower edge up to the next one)."""
    ages = pd.DataFrame({"age": [18, 24, 25, 39, 40, 59, 60, 100]})
    groups = ingest.add_slices(ages)["age_group"].tolist()
    assert groups == ["18-24", "18-24", "25-39", "25-39", "40-59", "40-59", "60+", "60+"]


# A defect planted in a copy of contract.yaml, and the key its one-line error must name.
CONTRACT_DEFECTS = [
    pytest.param("  duration:\n    dtype: int", "  duration:\n    dtype: integer",
                 "columns.duration.dtype: Input should be 'int', 'float' or 'str'", id="dtype"),
    pytest.param("    role: ignored", "    role: protected",
                 "columns.job.role: Input should be 'feature', 'sensitive', ", id="role"),
    pytest.param("monthly_installment: credit_amount / duration",
                 "monthly_installment: log(credit_amount) / duration",
                 "derived.monthly_installment: only column names, numbers and + - * / are "
                 "allowed, not a call (log(credit_amount))", id="derived-call"),
    pytest.param("monthly_installment: credit_amount / duration",
                 "monthly_installment: credit_amount / age",
                 "derived.monthly_installment: 'age' is not a numeric feature column",
                 id="derived-from-a-non-input"),
    pytest.param("    column: age\n", "    column: birth_year\n",
                 "slices.age_group.column: 'birth_year' is not a column of the contract",
                 id="slice-of-a-missing-column"),
    pytest.param("  positive: 1\n", "  positive: 0\n",
                 "target.positive: 1 is the class the model scores", id="positive-class-0"),
    pytest.param("task: binary", "task: multiclass",
                 "task: 'multiclass' is not supported yet (only binary is implemented)",
                 id="task-not-implemented"),
    pytest.param("fairness: [sex, age_group]", "fairness: [sex, age]",
                 "fairness: 'age' is neither a categorical column nor a slice",
                 id="fairness-of-a-numeric-column"),
    pytest.param("  duration: 24\n", "  duration: 240\n",
                 "example.duration: Input should be less than or equal to 120", id="bad-example"),
    pytest.param("task: binary", "task: [binary", "): not valid YAML", id="not-yaml"),
]  # fmt: skip


@pytest.mark.parametrize(("old", "new", "message"), CONTRACT_DEFECTS)
def test_a_broken_contract_is_refused_in_one_line_naming_the_file_and_key(
    tmp_path: Path, old: str, new: str, message: str
) -> None:
    """Data 1: the contract itself is checked when it is loaded: a wrong type, an unknown
    role, code in a derived formula or a slice of a missing column is refused at once,
    naming the file and the key, instead of failing somewhere downstream."""
    text = contract.CONTRACT.path.read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    broken = tmp_path / "contract.yaml"
    broken.write_text(text.replace(old, new), encoding="utf-8")
    with pytest.raises(contract.ContractError) as error:
        contract.load_contract(broken)
    assert str(error.value).startswith(str(broken))
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_preprocessing_handles_unseen_categories_and_yields_finite_values(
    train_frame: pd.DataFrame,
) -> None:
    """Data 7: the feature pipeline is total: an unseen category encodes to zeros, not an error."""
    preprocessor = build_preprocessor().fit(train_frame)
    unseen = train_frame.head(3).assign(purpose="never seen")
    features = np.asarray(preprocessor.transform(unseen), dtype=float)
    assert np.isfinite(features).all()
    purpose_columns = [
        i for i, n in enumerate(preprocessor.get_feature_names_out()) if n.startswith("purpose_")
    ]
    assert not features[:, purpose_columns].any()


def test_split_is_stratified_deterministic_and_disjoint(raw: pd.DataFrame) -> None:
    """Infrastructure 1 (data side): the same seed gives the same split, with the label
    balance of the whole set in both parts."""
    first_train, first_test = ingest.split(raw, 0.2, seed=7)
    second_train, _ = ingest.split(raw, 0.2, seed=7)
    pd.testing.assert_frame_equal(first_train, second_train)
    assert len(first_test) == 200
    assert abs(first_test["risk"].mean() - raw["risk"].mean()) < 0.01


def test_current_batch_is_valid_data_that_has_shifted(
    holdout_frame: pd.DataFrame, current_frame: pd.DataFrame
) -> None:
    """Monitoring 2: the replayed production batch keeps the contract yet differs in
    distribution (so drift monitoring has something real to find)."""
    contract.validate(current_frame.drop(columns="age_group"))
    assert current_frame["credit_amount"].median() > 1.2 * holdout_frame["credit_amount"].median()
    assert current_frame["age"].mean() < holdout_frame["age"].mean()
