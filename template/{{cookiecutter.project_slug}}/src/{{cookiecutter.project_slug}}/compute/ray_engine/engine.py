"""The steps' data-parallel parts on Ray: batches of rows through Ray Data `map_batches`,
hyper-parameter trials as parallel Ray Tune trials (Optuna's TPE through OptunaSearch),
LightGBM and XGBoost data-parallel with Ray Train, any other estimator fitted on one Ray
worker.

`RAY_ADDRESS` set: the work joins that cluster (a job submitted with `make ray-submit` has
it set by Ray). Unset: a local Ray starts in this process, without its dashboard and its
log lines, so a run prints the project's own lines only."""

from __future__ import annotations

import logging
import os
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import ray
from sklearn.base import clone, is_classifier

from ...config import ComputeSettings
from ..base import FrameFunction, Objective, Params, Searched, SearchSpace

SCORE = "score"  # the metric each tuning trial reports
LABEL = "label"  # the label column of the training matrix's Ray dataset


@ray.remote(num_cpus=0)
class NodeLedger:
    """Which Ray nodes ran each kind of work (the run's log says so; the tests check it)."""

    def __init__(self) -> None:
        self.nodes: dict[str, set[str]] = {}
        self.errors: list[Exception] = []

    def record(self, work: str, node: str) -> None:
        self.nodes.setdefault(work, set()).add(node)

    def seen(self) -> dict[str, set[str]]:
        return self.nodes

    def fail(self, error: Exception) -> None:
        self.errors.append(error)

    def first_error(self) -> Exception | None:
        """The first exception the project's code raised since the last call (Ray Data
        hands back only its own wrapper, without it)."""
        first = self.errors[0] if self.errors else None
        self.errors.clear()
        return first


def _node() -> str:
    return str(ray.get_runtime_context().get_node_id())


def _numpy_dtypes(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` with numpy dtypes, as the local engine returns it: Ray Data's blocks come
    back with Arrow's (int64[pyarrow], string[pyarrow])."""
    arrow = {
        name: dtype.numpy_dtype  # type: ignore[attr-defined]  # pandas-stubs lacks it
        for name, dtype in frame.dtypes.items()
        if isinstance(dtype, pd.ArrowDtype)
    }
    return frame.astype(arrow) if arrow else frame


def check_shard(labels: np.ndarray, classes: int | None) -> None:
    """Refuse a classifier's shard that lacks one of the `classes` (None: a regressor's,
    any will do): its worker would infer fewer classes, another objective, and the workers'
    collective fit would not grow the same trees."""
    held = len(np.unique(labels))
    if classes is not None and held != classes:
        raise ValueError(
            f"a worker's shard holds {held} of the {classes} classes: fit on fewer workers "
            "(compute.workers) or more rows"
        )


class _Suggest:
    """OptunaSearch's define-by-run space: asks `space` for its suggestions, defines no
    constants (a picklable callable: Tune ships it to its search actor)."""

    def __init__(self, space: SearchSpace) -> None:
        self.space = space

    def __call__(self, trial: Any) -> None:
        self.space(trial)


def _quiet() -> None:
    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    os.environ.setdefault("RAY_TRAIN_V2_ENABLED", "1")
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")
    import ray.data  # noqa: F401  # configures its own loggers on import: quieten them after

    for name in ("ray", "ray.data", "ray.tune", "ray.train"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module="ray")


class RayEngine:
    name = "ray"

    def __init__(self, settings: ComputeSettings) -> None:
        self.settings = settings
        self.ledger = NodeLedger.remote()  # type: ignore[attr-defined]

    def nodes(self) -> dict[str, set[str]]:
        """The node ids that ran each kind of work so far."""
        seen: dict[str, set[str]] = ray.get(self.ledger.seen.remote())
        return seen

    def map_frame(self, function: FrameFunction, frame: pd.DataFrame) -> pd.DataFrame:
        ledger = self.ledger
        dtypes = frame.dtypes.to_dict()

        def batch(rows: pd.DataFrame) -> pd.DataFrame:
            ledger.record.remote("map_frame", _node())
            try:
                # The batch arrives with Arrow's dtypes: give `function` the frame's own.
                return function(rows.astype(dtypes))
            except Exception as error:
                ray.get(ledger.fail.remote(error))  # recorded before the task fails
                raise

        blocks = max(1, min(self.settings.workers, len(frame)))
        dataset = ray.data.from_pandas(frame.reset_index(drop=True)).repartition(blocks)
        try:
            mapped = dataset.map_batches(
                batch,  # type: ignore[arg-type]  # Ray's stubs: any batch type, not pandas'
                batch_format="pandas",
                batch_size=None,
            )
            blocks_out = ray.get(mapped.to_pandas_refs())
        except Exception as error:
            original = ray.get(ledger.first_error.remote())
            if original is None:
                raise
            raise original from error
        return _numpy_dtypes(pd.concat(blocks_out, ignore_index=True))

    def search(self, objective: Objective, space: SearchSpace, trials: int, seed: int) -> Searched:
        import optuna
        from ray import tune
        from ray.tune.search.optuna import OptunaSearch

        optuna.logging.set_verbosity(optuna.logging.WARNING)  # not a line per study
        ledger = self.ledger

        def trial(config: Params) -> None:
            ledger.record.remote("search", _node())
            tune.report({SCORE: objective(config)})

        searcher = OptunaSearch(
            space=_Suggest(space),
            metric=SCORE,
            mode="max",
            sampler=optuna.samplers.TPESampler(seed=seed),
        )
        with tempfile.TemporaryDirectory() as scratch:
            storage = self.settings.storage or scratch
            tuner = tune.Tuner(
                tune.with_resources(trial, {"CPU": 1}),
                tune_config=tune.TuneConfig(
                    search_alg=searcher,
                    num_samples=trials,
                    max_concurrent_trials=self.settings.concurrent_trials,
                ),
                run_config=tune.RunConfig(storage_path=storage, name="search", verbose=0),
            )
            results = tuner.fit()
            best = results.get_best_result(metric=SCORE, mode="max")
        params = {name: value for name, value in (best.config or {}).items()}
        return Searched(params, float((best.metrics or {})[SCORE]), len(results))

    def fit(self, estimator: Any, matrix: np.ndarray, labels: np.ndarray) -> Any:
        from lightgbm import LGBMClassifier, LGBMRegressor
        from xgboost import XGBClassifier, XGBRegressor

        if type(estimator) in (LGBMClassifier, LGBMRegressor):
            return self._fit_lightgbm(estimator, matrix, labels)
        if type(estimator) in (XGBClassifier, XGBRegressor):
            return self._fit_xgboost(estimator, matrix, labels)
        # scikit-learn estimators have no data-parallel fit: one Ray worker fits it.
        ledger = self.ledger

        @ray.remote(num_cpus=1)
        def fit_one(estimator: Any, matrix: np.ndarray, labels: np.ndarray) -> Any:
            ledger.record.remote("fit", _node())
            return estimator.fit(matrix, labels)

        return ray.get(fit_one.remote(estimator, matrix, labels))

    def _fit_lightgbm(self, estimator: Any, matrix: np.ndarray, labels: np.ndarray) -> Any:
        """LightGBM's data-parallel tree learner over `compute.workers` Ray Train workers,
        each on its shard of the rows."""
        from ray.train.lightgbm import LightGBMTrainer, get_network_params

        params = estimator.get_params()

        def fit_shard(x: np.ndarray, y: np.ndarray) -> Any:
            network = {**get_network_params(), "tree_learner": "data", "pre_partition": True}
            return type(estimator)(**{**params, **network}).fit(x, y)

        model = self._data_parallel(LightGBMTrainer, fit_shard, estimator, matrix, labels)
        # Keep the model's own parameters only: the cluster's addresses and its tree learner
        # are how this fit ran, not the model (LightGBM keeps extra parameters in both).
        for key in set(model.get_params()) - set(params):
            model._other_params.pop(key, None)
            vars(model).pop(key, None)
        return model

    def _fit_xgboost(self, estimator: Any, matrix: np.ndarray, labels: np.ndarray) -> Any:
        """XGBoost's distributed `hist` over `compute.workers` Ray Train workers: each fits
        the estimator on its shard inside the collective (Rabit) context XGBoostTrainer opens
        around the loop, which sums the histograms of every shard, so every worker grows the
        same trees; the sklearn estimator itself, as the local engine fits it."""
        from ray.train.xgboost import XGBoostTrainer

        def fit_shard(x: np.ndarray, y: np.ndarray) -> Any:
            return clone(estimator).fit(x, y)

        return self._data_parallel(XGBoostTrainer, fit_shard, estimator, matrix, labels)

    def _data_parallel(
        self,
        trainer: Any,
        fit_shard: Callable[[np.ndarray, np.ndarray], Any],
        estimator: Any,
        matrix: np.ndarray,
        labels: np.ndarray,
    ) -> Any:
        """`fit_shard` on each worker's shard of the rows, under Ray Train's `trainer` (its
        `train_loop_per_worker` style: the library's collective set up around the loop);
        the model comes back from rank 0's checkpoint. Each of a classifier's shards must
        hold every class: each worker infers the classes (and the objective) from its own
        labels, and workers that disagree would not grow the same trees."""
        from ray.train import Checkpoint, RunConfig, ScalingConfig

        ledger = self.ledger
        columns = [f"f{index}" for index in range(matrix.shape[1])]
        rows = pd.DataFrame(matrix, columns=columns).assign(**{LABEL: labels})
        classes = len(np.unique(labels)) if is_classifier(estimator) else None

        def per_worker() -> None:
            context = ray.train.get_context()
            ledger.record.remote("fit", _node())
            shard = pd.concat(
                ray.train.get_dataset_shard("train").iter_batches(batch_format="pandas")
            )
            check_shard(shard[LABEL].to_numpy(), classes)
            model = fit_shard(shard[columns].to_numpy(), shard[LABEL].to_numpy())
            if context.get_world_rank() != 0:
                ray.train.report({"rows": len(shard)})
                return
            with tempfile.TemporaryDirectory() as directory:
                joblib.dump(model, Path(directory) / "model.joblib")
                checkpoint = Checkpoint.from_directory(directory)
                ray.train.report({"rows": len(shard)}, checkpoint=checkpoint)

        with tempfile.TemporaryDirectory() as scratch:
            storage = self.settings.storage or scratch  # every node's workers write there
            result = trainer(
                per_worker,
                scaling_config=ScalingConfig(num_workers=self.settings.workers),
                run_config=RunConfig(storage_path=storage, name="fit"),
                datasets={"train": ray.data.from_pandas(rows)},
            ).fit()
            if result.checkpoint is None:
                raise RuntimeError("Ray Train returned no model")
            with result.checkpoint.as_directory() as directory:
                return joblib.load(Path(directory) / "model.joblib")


def start(settings: ComputeSettings) -> RayEngine:
    """Join the cluster at RAY_ADDRESS, or start a quiet local Ray."""
    _quiet()
    if not ray.is_initialized():
        address = os.environ.get("RAY_ADDRESS")
        ray.init(
            # "local": a Ray of its own, even where `ray start` left a cluster running
            # (Ray joins the newest one it finds on the machine otherwise).
            address=address or "local",
            # A local Ray listens on the loopback address only; a cluster's nodes say theirs.
            _node_ip_address=None if address else "127.0.0.1",
            include_dashboard=False,
            logging_level=logging.ERROR,
            log_to_driver=False,
            configure_logging=True,
        )
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    context.execution_options.preserve_order = True  # rows come back in their order
    return RayEngine(settings)
