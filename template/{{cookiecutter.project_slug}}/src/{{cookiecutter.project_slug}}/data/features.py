"""Feature engineering as code: it runs inside the model pipeline, so training and serving
transform inputs identically (no training/serving skew) and the transformations ship with
every saved model."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

from .contract import CATEGORICAL_INPUTS, CONTRACT, NUMERIC_INPUTS

# The contract's derived features (contract.yaml `derived`): arithmetic on columns, so the
# same formula runs on a DataFrame (training) and on numpy columns (the compiled serving
# path, serving/scorer.py).
DERIVED_FEATURES = CONTRACT.derived
DERIVED = tuple(DERIVED_FEATURES)


def add_derived_features(frame: pd.DataFrame) -> pd.DataFrame:
    """The inputs plus the derived features (DERIVED_FEATURES)."""
    return frame.assign(**{name: formula(frame) for name, formula in DERIVED_FEATURES.items()})


def derived_feature_names(_: object, input_features: Sequence[str]) -> list[str]:
    """Column names after add_derived_features (lets the pipeline report feature names)."""
    return [*input_features, *DERIVED]


def build_preprocessor() -> Pipeline:
    """Derive features, then scale numbers and one-hot encode categories. Columns that are
    not model inputs (the label, protected attributes, slices) are dropped here."""
    numeric = Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())])
    categorical = Pipeline(
        [
            ("impute", SimpleImputer(strategy="most_frequent")),
            ("encode", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
        ]
    )
    columns = ColumnTransformer(
        [
            ("numeric", numeric, [*NUMERIC_INPUTS, *DERIVED]),
            ("categorical", categorical, list(CATEGORICAL_INPUTS)),
        ],
        remainder="drop",
        verbose_feature_names_out=False,
    )
    return Pipeline(
        [
            (
                "derive",
                FunctionTransformer(add_derived_features, feature_names_out=derived_feature_names),
            ),
            ("columns", columns),
        ]
    )
