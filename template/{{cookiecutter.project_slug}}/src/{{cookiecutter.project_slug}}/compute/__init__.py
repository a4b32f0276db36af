"""Where the heavy work of the steps runs: the same step functions hand their data-parallel
parts (validating a batch, a hyper-parameter search, fitting the estimator, scoring a
batch) to an engine. `local` runs them in this process; params.yaml `compute.engine` names
another one, a package `compute/<engine>_engine` beside this file, with its README."""

from __future__ import annotations

from importlib import import_module

from ..config import PARAMS_FILE, ComputeSettings, ConfigurationError
from .base import LOCAL, Engine, FrameFunction, Objective, Params, SearchSpace


def get_engine(settings: ComputeSettings) -> Engine:
    """The engine params.yaml names; raises ConfigurationError for one this project lacks."""
    if settings.engine == LOCAL.name:
        return LOCAL
    try:
        module = import_module(f"{__name__}.{settings.engine}_engine")
    except ModuleNotFoundError as error:
        raise ConfigurationError(
            f"{PARAMS_FILE}: compute.engine {settings.engine!r} is not available here "
            f"(choose 'local'; {error.name} is missing)"
        ) from None
    engine: Engine = module.start(settings)
    return engine


__all__ = ["LOCAL", "Engine", "FrameFunction", "Objective", "Params", "SearchSpace", "get_engine"]
