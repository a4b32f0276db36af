"""Model training: an sklearn Pipeline (features + estimator), cross-validated, optionally
tuned with Optuna, with a cost-minimising decision threshold chosen on the same folds, and a
baseline it has to beat. Deterministic for a given seed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import ClassifierMixin, clone
from sklearn.dummy import DummyClassifier
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import FixedThresholdClassifier, StratifiedKFold
from sklearn.pipeline import Pipeline

from ..config import TrainSettings
from ..data.contract import COSTS, MODEL_INPUTS, TARGET, Costs
from ..data.features import build_preprocessor
from .threshold import ThresholdChoice, choose_threshold

Params = dict[str, Any]

ESTIMATORS: dict[str, Callable[[Params, int], ClassifierMixin]] = {
    "logistic_regression": lambda p, seed: LogisticRegression(
        **{"C": 1.0, "max_iter": 1000, **p}, random_state=seed
    ),
    "random_forest": lambda p, seed: RandomForestClassifier(
        **{"n_estimators": 200, "min_samples_leaf": 5, **p}, random_state=seed, n_jobs=1
    ),
    "gradient_boosting": lambda p, seed: HistGradientBoostingClassifier(
        **{"learning_rate": 0.05, "max_iter": 200, **p}, random_state=seed
    ),
}


def search_space(name: str, trial: Any) -> Params:
    """Optuna's search space for each estimator."""
    if name == "logistic_regression":
        return {"C": trial.suggest_float("C", 1e-3, 100.0, log=True)}
    if name == "random_forest":
        return {
            "n_estimators": trial.suggest_int("n_estimators", 50, 400, step=50),
            "max_depth": trial.suggest_int("max_depth", 2, 12),
            "min_samples_leaf": trial.suggest_int("min_samples_leaf", 1, 20),
        }
    return {
        "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.3, log=True),
        "max_depth": trial.suggest_int("max_depth", 2, 8),
        "l2_regularization": trial.suggest_float("l2_regularization", 1e-6, 1.0, log=True),
    }


def build_pipeline(name: str, params: Params, seed: int, threshold: float = 0.5) -> Pipeline:
    """Preprocessing, estimator and decision threshold in one object: what is trained is
    what is served (predict_proba scores, predict decides at the threshold)."""
    if name not in ESTIMATORS:
        raise ValueError(f"unknown model {name!r}: choose one of {sorted(ESTIMATORS)}")
    model = FixedThresholdClassifier(ESTIMATORS[name](params, seed), threshold=threshold)
    return Pipeline([("features", build_preprocessor()), ("model", model)])


def build_baseline() -> Pipeline:
    """The simplest honest model: always predict the class prior."""
    return Pipeline([("features", build_preprocessor()), ("model", DummyClassifier())])


def features_and_target(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    """The model inputs (in contract order, as the model will always see them) and the label."""
    return frame[list(MODEL_INPUTS)], frame[TARGET.name]


@dataclass(frozen=True)
class CrossValidation:
    """Out-of-fold predictions of every training row and the folds they came from."""

    y_true: np.ndarray
    probability: np.ndarray
    folds: list[np.ndarray]

    def roc_auc(self) -> np.ndarray:
        return np.array(
            [roc_auc_score(self.y_true[rows], self.probability[rows]) for rows in self.folds]
        )


def cross_validate(
    pipeline: Pipeline, frame: pd.DataFrame, folds: int, seed: int
) -> CrossValidation:
    """Fit on each training fold, predict its validation fold (stratified, seeded)."""
    x, y = features_and_target(frame)
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    probability = np.zeros(len(y))
    validation_rows = []
    for fit_rows, rows in cv.split(x, y):
        fold_model = clone(pipeline).fit(x.iloc[fit_rows], y.iloc[fit_rows])
        probability[rows] = fold_model.predict_proba(x.iloc[rows])[:, 1]
        validation_rows.append(rows)
    return CrossValidation(y.to_numpy(), probability, validation_rows)


def cross_validated_auc(
    pipeline: Pipeline, frame: pd.DataFrame, folds: int, seed: int
) -> np.ndarray:
    return cross_validate(pipeline, frame, folds, seed).roc_auc()


def tune(settings: TrainSettings, frame: pd.DataFrame, seed: int) -> Params:
    """Search hyper-parameters with Optuna (seeded TPE), maximising cross-validated ROC AUC."""
    import optuna  # only needed when tuning

    optuna.logging.set_verbosity(optuna.logging.WARNING)

    def objective(trial: optuna.Trial) -> float:
        params = {**settings.hyperparameters, **search_space(settings.model, trial)}
        pipeline = build_pipeline(settings.model, params, seed)
        return float(cross_validated_auc(pipeline, frame, settings.cv_folds, seed).mean())

    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))
    study.optimize(objective, n_trials=settings.n_trials)
    return {**settings.hyperparameters, **study.best_params}


@dataclass(frozen=True)
class TrainedModel:
    pipeline: Pipeline
    model_name: str
    hyperparameters: Params
    cv_roc_auc_mean: float
    cv_roc_auc_std: float
    threshold: ThresholdChoice


def train(
    frame: pd.DataFrame,
    settings: TrainSettings,
    seed: int,
    costs: Costs = COSTS,
) -> TrainedModel:
    """Tune (if asked), cross-validate, choose the cost-minimising threshold on the
    out-of-fold predictions, then fit on the whole training set."""
    params = tune(settings, frame, seed) if settings.tune else dict(settings.hyperparameters)
    cv = cross_validate(
        build_pipeline(settings.model, params, seed), frame, settings.cv_folds, seed
    )
    choice = choose_threshold(cv.y_true, cv.probability, cv.folds, costs)
    pipeline = build_pipeline(settings.model, params, seed, threshold=choice.threshold)
    pipeline.fit(*features_and_target(frame))
    scores = cv.roc_auc()
    return TrainedModel(
        pipeline, settings.model, params, float(scores.mean()), float(scores.std()), choice
    )
