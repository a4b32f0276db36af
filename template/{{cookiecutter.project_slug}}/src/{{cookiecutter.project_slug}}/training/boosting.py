"""Gradient-boosted trees from LightGBM and XGBoost, beside the scikit-learn estimators:
each library's classifier (binary and multiclass) and regressor with this project's
defaults, and Optuna's search space for them.

The defaults keep a fit reproducible (one thread, the project's seed; LightGBM's
deterministic mode, XGBoost's histogram method) and quiet (no library log lines in a run's
output). A compute engine may fit the same models data-parallel (compute/)."""

from __future__ import annotations

from typing import Any

from lightgbm import LGBMClassifier, LGBMRegressor
from xgboost import XGBClassifier, XGBRegressor

Params = dict[str, Any]

DEFAULTS: Params = {
    "n_estimators": 200,
    "learning_rate": 0.05,
    "num_leaves": 15,
    "min_child_samples": 20,
    "subsample_freq": 0,
}
# Not tunables: what makes a fit repeatable and silent.
FIXED: Params = {"n_jobs": 1, "deterministic": True, "force_row_wise": True, "verbose": -1}

XGBOOST_DEFAULTS: Params = {
    "n_estimators": 200,
    "learning_rate": 0.05,
    "max_depth": 4,
    "min_child_weight": 1.0,
}
XGBOOST_FIXED: Params = {"n_jobs": 1, "tree_method": "hist", "verbosity": 0}


def lightgbm_classifier(params: Params, seed: int) -> LGBMClassifier:
    return LGBMClassifier(**{**DEFAULTS, **FIXED, **params}, random_state=seed)


def lightgbm_regressor(params: Params, seed: int) -> LGBMRegressor:
    return LGBMRegressor(**{**DEFAULTS, **FIXED, **params}, random_state=seed)


def lightgbm_space(trial: Any) -> Params:
    """Optuna's search space: tree size, learning rate, regularisation and row sampling."""
    return {
        "n_estimators": trial.suggest_int("n_estimators", 50, 400, step=50),
        "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.3, log=True),
        "num_leaves": trial.suggest_int("num_leaves", 4, 63),
        "min_child_samples": trial.suggest_int("min_child_samples", 5, 60),
        "reg_lambda": trial.suggest_float("reg_lambda", 1e-6, 10.0, log=True),
    }


def xgboost_classifier(params: Params, seed: int) -> XGBClassifier:
    """Binary (binary:logistic) or multiclass (multi:softprob): XGBoost picks the objective
    from the labels, which are 0..k-1 here (the contract's label order)."""
    return XGBClassifier(**{**XGBOOST_DEFAULTS, **XGBOOST_FIXED, **params}, random_state=seed)


def xgboost_regressor(params: Params, seed: int) -> XGBRegressor:
    return XGBRegressor(**{**XGBOOST_DEFAULTS, **XGBOOST_FIXED, **params}, random_state=seed)


def xgboost_space(trial: Any) -> Params:
    """Optuna's search space, LightGBM's counterpart: the number of trees, the learning rate,
    tree depth, the smallest leaf (in hessian weight) and L2 regularisation."""
    return {
        "n_estimators": trial.suggest_int("n_estimators", 50, 400, step=50),
        "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.3, log=True),
        "max_depth": trial.suggest_int("max_depth", 2, 8),
        "min_child_weight": trial.suggest_float("min_child_weight", 0.5, 20.0, log=True),
        "reg_lambda": trial.suggest_float("reg_lambda", 1e-6, 10.0, log=True),
    }
