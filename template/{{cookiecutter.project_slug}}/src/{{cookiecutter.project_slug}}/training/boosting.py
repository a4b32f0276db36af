"""Gradient-boosted trees from LightGBM, beside the scikit-learn estimators: its classifier
(binary and multiclass) and regressor with this project's defaults, and Optuna's search
space for them.

The defaults keep a fit reproducible (one thread, LightGBM's deterministic mode, the
project's seed) and quiet (no LightGBM log lines in a run's output). A compute engine may
fit the same model data-parallel (compute/)."""

from __future__ import annotations

from typing import Any

from lightgbm import LGBMClassifier, LGBMRegressor

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
