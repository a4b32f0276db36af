"""What an engine does, and the local engine: everything in this process, in order."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pandas as pd

Params = dict[str, Any]
FrameFunction = Callable[[pd.DataFrame], pd.DataFrame]  # one batch of rows in, its rows out
Objective = Callable[[Params], float]  # hyper-parameters -> score to maximise
SearchSpace = Callable[[Any], Params]  # an Optuna trial -> the hyper-parameters it suggests


@dataclass(frozen=True)
class Searched:
    """A search's best hyper-parameters, their score and how many trials ran."""

    params: Params
    value: float
    trials: int


class Engine(Protocol):
    name: str

    def map_frame(self, function: FrameFunction, frame: pd.DataFrame) -> pd.DataFrame:
        """`function` applied to batches of `frame`'s rows, concatenated in order (its
        index reset)."""
        ...

    def search(self, objective: Objective, space: SearchSpace, trials: int, seed: int) -> Searched:
        """The best of `trials` hyper-parameter sets Optuna's seeded TPE suggests."""
        ...

    def fit(self, estimator: Any, matrix: np.ndarray, labels: np.ndarray) -> Any:
        """`estimator` fitted on the transformed training matrix."""
        ...


class LocalEngine:
    """This process: one batch, trials one after the other, one fit."""

    name = "local"

    def map_frame(self, function: FrameFunction, frame: pd.DataFrame) -> pd.DataFrame:
        return function(frame).reset_index(drop=True)

    def search(self, objective: Objective, space: SearchSpace, trials: int, seed: int) -> Searched:
        import optuna  # only needed when tuning

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        study = optuna.create_study(
            direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed)
        )
        study.optimize(lambda trial: objective(space(trial)), n_trials=trials)
        return Searched(dict(study.best_params), float(study.best_value), len(study.trials))

    def fit(self, estimator: Any, matrix: np.ndarray, labels: np.ndarray) -> Any:
        return estimator.fit(matrix, labels)


LOCAL: Engine = LocalEngine()
