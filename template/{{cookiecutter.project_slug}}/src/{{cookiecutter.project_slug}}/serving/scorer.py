"""The compiled scorer: what the API serves instead of the fitted sklearn pipeline.

The pipeline itself (registry/model_store.py `predict_output`) has a fixed cost of a
few milliseconds per call (ColumnTransformer, imputers and encoders work column by column on
DataFrames), which dominates a request of a few rows.

`compile_pipeline` turns the fitted pipeline into the same arithmetic on numpy columns:
the derived features, imputation, scaling and one-hot encoding with the fitted
statistics, then the estimator (a linear model as one dot product: logistic for binary,
softmax for multiclass, Ridge's plain value for regression; LightGBM's and XGBoost's
boosters directly; any other estimator on the transformed matrix). It gives the task's
output (tasks/): P(positive), one probability per class, or the predicted value. It scores
a row in tens of microseconds instead of milliseconds, and agrees with the pipeline within
TOLERANCE; the promotion canary checks that on the held-out set before a model may serve
(serving/canary.py). A pipeline containing a step this module does not know is not
compiled: `load_scorer` serves the pipeline itself and logs why.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from lightgbm import LGBMClassifier, LGBMRegressor
from scipy.special import expit, softmax
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import FixedThresholdClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler
from xgboost import XGBClassifier, XGBRegressor

from ..data.contract import MODEL_INPUTS
from ..data.features import DERIVED_FEATURES, add_derived_features
from ..registry.model_store import FloatArray, predict_output

logger = logging.getLogger(__name__)

# Largest difference allowed between the served outputs and the pipeline's.
TOLERANCE = 1e-6

Columns = Mapping[str, Any]  # column name -> one-dimensional values (list or numpy array)
Scorer = Callable[[Columns], FloatArray]


class NotCompilableError(TypeError):
    """The pipeline holds a step (or a setting of one) the compiler does not translate."""


def reference_scorer(pipeline: Pipeline) -> Scorer:
    """The pipeline itself, taking columns (the fallback when it cannot be compiled)."""
    return lambda columns: predict_output(pipeline, pd.DataFrame(dict(columns)))


# ---- The compiler: each fitted step becomes a function on a float or object matrix.
CompiledStep = Callable[[np.ndarray], np.ndarray]


def _impute(imputer: SimpleImputer) -> CompiledStep:
    if imputer.add_indicator or not (
        imputer.missing_values is None or pd.isna(imputer.missing_values)
    ):
        raise NotCompilableError("SimpleImputer: only NaN/None as missing values, no indicator")
    statistics = imputer.statistics_

    def impute(matrix: np.ndarray) -> np.ndarray:
        missing = pd.isna(matrix)
        return np.where(missing, statistics, matrix) if missing.any() else matrix

    return impute


def _scale(scaler: StandardScaler) -> CompiledStep:
    mean, scale = scaler.mean_, scaler.scale_

    def standardise(matrix: np.ndarray) -> np.ndarray:
        # The same operations, in the same order, as StandardScaler.transform.
        result = np.array(matrix, dtype=np.float64)
        if mean is not None:
            result -= mean
        if scale is not None:
            result /= scale
        return result

    return standardise


def _one_hot(encoder: OneHotEncoder) -> CompiledStep:
    if (
        encoder.drop is not None
        or encoder.handle_unknown != "ignore"
        or getattr(encoder, "infrequent_categories_", None) is not None
        or encoder.sparse_output
    ):
        raise NotCompilableError("OneHotEncoder: only dense output, no drop, unknown ignored")
    lookups = [{value: index for index, value in enumerate(c)} for c in encoder.categories_]
    offsets = np.cumsum([0, *(len(c) for c in encoder.categories_)])

    def encode(matrix: np.ndarray) -> np.ndarray:
        rows = len(matrix)
        encoded = np.zeros((rows, int(offsets[-1])))
        for j, lookup in enumerate(lookups):
            codes = np.fromiter((lookup.get(v, -1) for v in matrix[:, j]), np.intp, rows)
            known = codes >= 0  # unknown categories encode as all zeros (handle_unknown)
            encoded[np.flatnonzero(known), offsets[j] + codes[known]] = 1.0
        return encoded

    return encode


STEP_COMPILERS: dict[type[Any], Callable[[Any], CompiledStep]] = {
    SimpleImputer: _impute,
    StandardScaler: _scale,
    OneHotEncoder: _one_hot,
}


@dataclass(frozen=True)
class _Branch:
    """One branch of the ColumnTransformer: its columns through its compiled steps."""

    names: list[str]
    steps: list[CompiledStep]
    numeric: bool  # its input is converted to float (else kept as objects, e.g. strings)

    def __call__(self, columns: Mapping[str, Any]) -> np.ndarray:
        dtype = np.float64 if self.numeric else object
        matrix = np.column_stack([np.asarray(columns[n], dtype=dtype) for n in self.names])
        for step in self.steps:
            matrix = step(matrix)
        return np.asarray(matrix, dtype=np.float64)


def _branch(transformer: Any, names: list[str]) -> _Branch:
    parts = (
        [s for _, s in transformer.steps] if isinstance(transformer, Pipeline) else [transformer]
    )
    steps = []
    for part in parts:
        compiler = STEP_COMPILERS.get(type(part))
        if compiler is None:
            raise NotCompilableError(f"no compiled form of {type(part).__name__}")
        steps.append(compiler(part))
    encodes = any(isinstance(part, OneHotEncoder) for part in parts)
    return _Branch(names, steps, numeric=not encodes)


def _branches(columns: ColumnTransformer) -> list[_Branch]:
    if columns.sparse_output_:
        raise NotCompilableError("ColumnTransformer: only dense output")
    branches = []
    for _, transformer, names in columns.transformers_:
        # A branch without columns (no categorical inputs, say) is left unfitted and
        # contributes no feature: sklearn skips it, and so does the compiled form.
        if (isinstance(transformer, str) and transformer == "drop") or len(names) == 0:
            continue
        if isinstance(transformer, str) or not all(isinstance(n, str) for n in names):
            raise NotCompilableError("ColumnTransformer: only fitted branches on named columns")
        branches.append(_branch(transformer, list(names)))
    return branches


def _estimator(model: Any) -> Callable[[np.ndarray], FloatArray]:
    """The task's output as predict_output takes it: P(class 1) (the second column of
    predict_proba), every class's probability, or the predicted value. A
    FixedThresholdClassifier's probabilities are its estimator's: the threshold only moves
    the decision, which the API takes at the model's threshold."""
    if isinstance(model, FixedThresholdClassifier):
        model = model.estimator_
    if type(model) is LogisticRegression:
        coef, intercept = model.coef_, model.intercept_
        if coef.shape[0] == 1:
            return lambda matrix: np.asarray(expit(matrix @ coef[0] + intercept[0]), dtype=float)
        # Multinomial: sklearn's predict_proba is the softmax of decision_function.
        return lambda matrix: np.asarray(softmax(matrix @ coef.T + intercept, axis=1), dtype=float)
    if type(model) is Ridge and np.ndim(model.coef_) == 1:
        coef, intercept = model.coef_, model.intercept_
        return lambda matrix: np.asarray(matrix @ coef + intercept, dtype=np.float64)
    if type(model) in (LGBMClassifier, LGBMRegressor):
        # LightGBM's own booster: the trees exactly as trained, without the sklearn wrapper's
        # per-call input checks. It predicts the task's output itself: P(class 1) (binary;
        # the wrapper's predict_proba stacks 1 - p beside it), every class's probability
        # (multiclass, softmax) or the value (regression).
        booster = model.booster_
        return lambda matrix: np.asarray(booster.predict(matrix), dtype=np.float64)
    if type(model) in (XGBClassifier, XGBRegressor):
        return _xgboost(model)
    if not hasattr(model, "predict_proba"):  # a regressor: its prediction is the output
        return lambda matrix: np.asarray(model.predict(matrix), dtype=np.float64)
    if len(model.classes_) == 2:
        return lambda matrix: np.asarray(model.predict_proba(matrix)[:, 1], dtype=np.float64)
    return lambda matrix: np.asarray(model.predict_proba(matrix), dtype=np.float64)


def _xgboost(model: XGBClassifier | XGBRegressor) -> Callable[[np.ndarray], FloatArray]:
    """XGBoost's booster, `inplace_predict` as the wrapper calls it (the same trees, the
    same missing value, up to the best iteration when early stopping chose one) without its
    per-call checks. Its predicted value is the task's output: P(class 1) (binary:logistic),
    every class's probability (multi:softprob) or the value (regression)."""
    booster = model.get_booster()
    best = getattr(model, "best_iteration", None)  # absent without early stopping
    rounds = (0, 0 if best is None else int(best) + 1)  # (0, 0): every tree
    missing = model.missing

    def predict(matrix: np.ndarray) -> FloatArray:
        predicted = booster.inplace_predict(
            matrix, iteration_range=rounds, predict_type="value", missing=missing
        )
        return np.asarray(predicted, dtype=np.float64)

    return predict


def _flatten(pipeline: Pipeline) -> list[Any]:
    steps: list[Any] = []
    for _, step in pipeline.steps:
        steps.extend(_flatten(step) if isinstance(step, Pipeline) else [step])
    return steps


def compile_pipeline(pipeline: Pipeline) -> Scorer:
    """The pipeline as numpy operations on columns (raises NotCompilableError when it holds
    steps other than this project's derived features, one ColumnTransformer of imputers,
    scalers and one-hot encoders, and an estimator)."""
    *transforms, model = _flatten(pipeline)
    if (
        not transforms
        or not isinstance(transforms[-1], ColumnTransformer)
        or not all(
            isinstance(t, FunctionTransformer) and t.func is add_derived_features and not t.kw_args
            for t in transforms[:-1]
        )
    ):
        raise NotCompilableError(
            "expected the derived features, one ColumnTransformer and the estimator"
        )
    derive = len(transforms) > 1
    branches = _branches(transforms[-1])
    estimator = _estimator(model)
    numeric_inputs = {n for b in branches if b.numeric for n in b.names} - set(DERIVED_FEATURES)

    def score(inputs: Columns) -> FloatArray:
        values: dict[str, Any] = dict(inputs)
        if derive:
            for name in numeric_inputs:
                values[name] = np.asarray(values[name], dtype=np.float64)
            values |= {name: formula(values) for name, formula in DERIVED_FEATURES.items()}
        matrix = np.hstack([branch(values) for branch in branches])
        return estimator(matrix)

    return score


def load_scorer(pipeline: Pipeline) -> tuple[Scorer, str]:
    """The fastest exact way to score with `pipeline`, and its name ("compiled" or
    "sklearn")."""
    try:
        return compile_pipeline(pipeline), "compiled"
    except NotCompilableError as error:
        logger.warning("serving the sklearn pipeline itself (not compiled: %s)", error)
        return reference_scorer(pipeline), "sklearn"


def frame_columns(frame: pd.DataFrame) -> dict[str, Any]:
    """The model inputs of a DataFrame as columns (what a scorer takes)."""
    return {name: frame[name].to_numpy() for name in MODEL_INPUTS}
