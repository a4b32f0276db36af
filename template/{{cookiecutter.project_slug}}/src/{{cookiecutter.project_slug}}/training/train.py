"""Model training: an sklearn Pipeline (features + estimator), cross-validated, optionally
tuned with Optuna on the task's primary metric, with the task's decision threshold (binary:
cost-minimising) chosen on the same folds, and a baseline it has to beat. Deterministic for
a given seed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, clone
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline

from ..compute import LOCAL, Engine
from ..config import TrainSettings
from ..data.contract import MODEL_INPUTS, TARGET
from ..data.features import build_preprocessor
from ..tasks import TASK
from .boosting import (
    lightgbm_classifier,
    lightgbm_regressor,
    lightgbm_space,
    xgboost_classifier,
    xgboost_regressor,
    xgboost_space,
)

Params = dict[str, Any]
Estimators = dict[str, Callable[[Params, int], BaseEstimator]]

# params.yaml `train.model` for a classifier (binary, multiclass) ...
CLASSIFIERS: Estimators = {
    "logistic_regression": lambda p, seed: LogisticRegression(
        **{"C": 1.0, "max_iter": 1000, **p}, random_state=seed
    ),
    "random_forest": lambda p, seed: RandomForestClassifier(
        **{"n_estimators": 200, "min_samples_leaf": 5, **p}, random_state=seed, n_jobs=1
    ),
    "gradient_boosting": lambda p, seed: HistGradientBoostingClassifier(
        **{"learning_rate": 0.05, "max_iter": 200, **p}, random_state=seed
    ),
    "lightgbm": lightgbm_classifier,
    "xgboost": xgboost_classifier,
}
# ... and its counterpart for a regressor: the linear model penalised the same way (Ridge's
# alpha is 1 / C), the same forest and boosting.
REGRESSORS: Estimators = {
    "logistic_regression": lambda p, seed: Ridge(**{"alpha": 1.0, **p}, random_state=seed),
    "random_forest": lambda p, seed: RandomForestRegressor(
        **{"n_estimators": 200, "min_samples_leaf": 5, **p}, random_state=seed, n_jobs=1
    ),
    "gradient_boosting": lambda p, seed: HistGradientBoostingRegressor(
        **{"learning_rate": 0.05, "max_iter": 200, **p}, random_state=seed
    ),
    "lightgbm": lightgbm_regressor,
    "xgboost": xgboost_regressor,
}
ESTIMATORS = REGRESSORS if TASK.kind == "regressor" else CLASSIFIERS


def search_space(name: str, trial: Any) -> Params:
    """Optuna's search space for each estimator."""
    if name == "logistic_regression" and TASK.kind == "regressor":
        return {"alpha": trial.suggest_float("alpha", 1e-2, 1e3, log=True)}
    if name == "logistic_regression":
        return {"C": trial.suggest_float("C", 1e-3, 100.0, log=True)}
    if name == "random_forest":
        return {
            "n_estimators": trial.suggest_int("n_estimators", 50, 400, step=50),
            "max_depth": trial.suggest_int("max_depth", 2, 12),
            "min_samples_leaf": trial.suggest_int("min_samples_leaf", 1, 20),
        }
    if name == "lightgbm":
        return lightgbm_space(trial)
    if name == "xgboost":
        return xgboost_space(trial)
    return {
        "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.3, log=True),
        "max_depth": trial.suggest_int("max_depth", 2, 8),
        "l2_regularization": trial.suggest_float("l2_regularization", 1e-6, 1.0, log=True),
    }


def build_pipeline(name: str, params: Params, seed: int, threshold: float | None = 0.5) -> Pipeline:
    """Preprocessing, estimator and (binary) decision threshold in one object: what is
    trained is what is served (predict_proba scores, predict decides at the threshold)."""
    if name not in ESTIMATORS:
        raise ValueError(f"unknown model {name!r}: choose one of {sorted(ESTIMATORS)}")
    model = TASK.with_threshold(ESTIMATORS[name](params, seed), threshold)
    return Pipeline([("features", build_preprocessor()), ("model", model)])


def build_baseline() -> Pipeline:
    """The simplest honest model of the task (the class prior, or the training mean)."""
    return Pipeline([("features", build_preprocessor()), ("model", TASK.baseline())])


def features_and_target(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    """The model inputs (in contract order, as the model will always see them) and the label."""
    return frame[list(MODEL_INPUTS)], frame[TARGET.name]


@dataclass(frozen=True)
class CrossValidation:
    """Out-of-fold predictions of every training row and the folds they came from."""

    y_true: np.ndarray
    output: np.ndarray  # the task's output of each row (tasks/base.py Task.output)
    folds: list[np.ndarray]

    def scores(self) -> np.ndarray:
        """The task's primary metric on each fold."""
        return np.array(
            [TASK.primary_value(self.y_true[rows], self.output[rows]) for rows in self.folds]
        )


def cross_validate(
    pipeline: Pipeline, frame: pd.DataFrame, folds: int, seed: int
) -> CrossValidation:
    """Fit on each training fold, predict its validation fold (stratified for a classifier,
    seeded)."""
    x, y = features_and_target(frame)
    output: np.ndarray | None = None
    validation_rows = []
    for fit_rows, rows in TASK.splitter(folds, seed).split(x, y):
        fold_model = clone(pipeline).fit(x.iloc[fit_rows], y.iloc[fit_rows])
        predicted = TASK.output(fold_model, x.iloc[rows])
        if output is None:
            output = np.zeros((len(y), *predicted.shape[1:]))
        output[rows] = predicted
        validation_rows.append(rows)
    assert output is not None  # noqa: S101 (a splitter yields at least two folds)
    return CrossValidation(y.to_numpy(), output, validation_rows)


@dataclass(frozen=True)
class Tuning:
    """What the search tried beside the configured hyper-parameters, and what it chose; the
    scores are the task's primary metric, cross-validated."""

    trials: int
    best_trial: Params
    best_trial_cv: float
    defaults_cv: float  # params.yaml's hyperparameters (the estimator's defaults)
    hyperparameters: Params


def tune(settings: TrainSettings, frame: pd.DataFrame, seed: int, engine: Engine = LOCAL) -> Tuning:
    """Search hyper-parameters with Optuna (seeded TPE) for the best cross-validated primary
    metric of the task (ROC AUC, or RMSE for regression), and keep the configured ones unless
    a trial beats them: tuning never makes it worse. The engine runs the trials (one after
    the other locally, in parallel on a cluster)."""

    def score(params: Params) -> float:
        pipeline = build_pipeline(settings.model, params, seed)
        return float(cross_validate(pipeline, frame, settings.cv_folds, seed).scores().mean())

    def objective(suggested: Params) -> float:
        return sign * score({**settings.hyperparameters, **suggested})

    # The engine's search maximises: a lower-is-better metric (RMSE) is searched negated.
    sign = 1.0 if TASK.primary.higher_is_better else -1.0
    found = engine.search(objective, partial(search_space, settings.model), settings.n_trials, seed)
    best_trial = sign * found.value
    # Scored beside the search, not enqueued as its first trial: that would move the seeded
    # sampler's sequence, and with it every tuned result.
    defaults = score(dict(settings.hyperparameters))
    searched = {**settings.hyperparameters, **found.params}
    beaten = TASK.primary.better(best_trial, than=defaults)
    chosen = searched if beaten else dict(settings.hyperparameters)
    return Tuning(found.trials, searched, best_trial, defaults, chosen)


def fit(pipeline: Pipeline, frame: pd.DataFrame, engine: Engine = LOCAL) -> Pipeline:
    """`pipeline.fit` on the training rows, the estimator's fit handed to the engine
    (data-parallel where the estimator allows it)."""
    x, y = features_and_target(frame)
    matrix = pipeline.named_steps["features"].fit_transform(x, y)
    labels = y.to_numpy()
    model = TASK.fit_model(
        pipeline.named_steps["model"], lambda estimator: engine.fit(estimator, matrix, labels)
    )
    pipeline.steps[-1] = ("model", model)
    return pipeline


@dataclass(frozen=True)
class TrainedModel:
    pipeline: Pipeline
    model_name: str
    hyperparameters: Params
    cv_mean: float  # the task's primary metric, cross-validated
    cv_std: float
    threshold: float | None  # binary: the cost-minimising decision threshold
    cv_policy: dict[str, float]  # the decisions' cross-validated figures (expected cost)
    tuning: Tuning | None = None  # None when params.yaml turns tuning off

    def cv_metrics(self) -> dict[str, float]:
        """The cross-validated figures, as metrics.json records them."""
        key = TASK.primary.key
        return {f"cv_{key}_mean": self.cv_mean, f"cv_{key}_std": self.cv_std, **self.cv_policy}


def train(
    frame: pd.DataFrame, settings: TrainSettings, seed: int, engine: Engine = LOCAL
) -> TrainedModel:
    """Tune (if asked), cross-validate, choose the task's decision threshold on the
    out-of-fold predictions, then fit on the whole training set."""
    tuning = tune(settings, frame, seed, engine) if settings.tune else None
    params = tuning.hyperparameters if tuning else dict(settings.hyperparameters)
    cv = cross_validate(
        build_pipeline(settings.model, params, seed), frame, settings.cv_folds, seed
    )
    threshold, policy = TASK.choose_threshold(cv.y_true, cv.output, cv.folds)
    pipeline = build_pipeline(settings.model, params, seed, threshold=threshold)
    fit(pipeline, frame, engine)
    scores = cv.scores()
    return TrainedModel(
        pipeline,
        settings.model,
        params,
        float(scores.mean()),
        float(scores.std()),
        threshold,
        policy,
        tuning,
    )
