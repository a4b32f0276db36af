"""The served model: loaded once per worker, at startup or on the first request that finds
one, and swapped for a newly exported champion without dropping a request (requests in
flight finish on the old one). A champion that cannot be loaded (damaged files, or not
signed by a trusted signer as it is: registry/provenance.py) is never served: the slot
keeps the model it has, or stays empty, and says why (`/ready`)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, NamedTuple

import numpy as np

from ..data.contract import CONTRACT
from ..registry import model_store
from ..security import TrustedSigner
from ..tasks import TASK
from .metrics import Metrics
from .scorer import Scorer, load_scorer

logger = logging.getLogger(__name__)
PACKAGE = __name__.partition(".")[0]  # what `python -m` runs: the project's CLI


class Served(NamedTuple):
    """A loaded model: requests take it as one value, so a swap never mixes two models."""

    scorer: Scorer
    kind: Literal["compiled", "sklearn"]
    metadata: model_store.ModelMetadata
    threshold: float | None  # the model's decision threshold (binary), swapped with it

    @classmethod
    def of(cls, pipeline: Any, metadata: model_store.ModelMetadata) -> Served:
        """The loaded pipeline, compiled where it can be, with the threshold it ships."""
        scorer, kind = load_scorer(pipeline)
        compiled: Literal["compiled", "sklearn"] = "sklearn" if kind == "sklearn" else "compiled"
        return cls(scorer, compiled, metadata, model_store.threshold_of(pipeline))

    def decide(self, output: np.ndarray) -> np.ndarray:
        """The model's decision of each row (tasks/: a label at the model's threshold, the
        class of least expected cost, or the predicted value itself)."""
        return np.asarray(TASK.decide(output, self.threshold))


def decision_names(decided: np.ndarray) -> np.ndarray:
    """Each decided label named after its class, as the API and batch scoring answer."""
    names: np.ndarray = np.asarray(CONTRACT.class_names, dtype=object)[decided.astype(int)]
    return names


class ModelSlot:
    """The served model: loaded at startup (or on demand until one exists) and swapped
    for a newly exported one when `refresh` sees the directory change."""

    def __init__(
        self, directory: Path, metrics: Metrics | None, signers: Sequence[TrustedSigner]
    ) -> None:
        self.directory = directory
        self.signers = signers  # who may sign what it loads (registry/provenance.py)
        self.served: Served | None = None
        self.problem: str | None = None  # why the directory's model is not served
        self._metrics = metrics
        self._lock = threading.Lock()
        self._seen: tuple[int, int, int] | None = None  # the metadata file last looked at

    def _signature(self) -> tuple[int, int, int] | None:
        try:
            stat = (self.directory / model_store.METADATA_FILE).stat()
        except OSError:
            return None
        return stat.st_ino, stat.st_mtime_ns, stat.st_size

    def ensure_loaded(self) -> bool:
        """Load the model if none is served yet; True when one is served."""
        if self.served is None:
            self.refresh()
        return self.served is not None

    def refresh(self) -> None:
        """Load the directory's model if it changed since last looked at, and swap it in."""
        signature = self._signature()
        if signature is None or signature == self._seen:
            return
        with self._lock:
            if signature == self._seen:  # another thread loaded it meanwhile
                return
            self._seen = signature
            self._load()

    def _load(self) -> None:
        try:
            pipeline, metadata = model_store.load(self.directory, self.signers)
        except model_store.ModelNotFoundError:
            logger.debug("no model in %s yet", self.directory)
            return
        except model_store.CorruptModelError as error:
            target = error.previous_version or "<version>"
            self.problem = (
                f"the model in {self.directory} cannot be served ({error}); "
                f"roll back with `python -m {PACKAGE} rollback {target}`"
            )
            state = "keeping the served model" if self.served else "not ready"
            logger.error("%s; %s", self.problem, state)
            return
        previous, self.served = self.served, Served.of(pipeline, metadata)
        self.problem = None
        if self._metrics is not None:  # the champion's (a shadow challenger's is not counted)
            if previous is not None:
                old = previous.metadata
                self._metrics.model_info.remove(old.name, old.version, old.model_type)
            labels = (metadata.name, metadata.version, metadata.model_type)
            self._metrics.model_info.labels(*labels).set(1)
            self._metrics.model_loaded.set(1)
        logger.info(
            "serving %s v%s from %s (%s scorer)%s",
            metadata.name,
            metadata.version,
            self.directory,
            self.served.kind,
            f", replacing v{previous.metadata.version}" if previous else "",
        )

    def watch(self, stop: threading.Event, interval: float) -> threading.Thread:
        """Refresh every `interval` seconds until `stop` is set (a daemon thread)."""

        def loop() -> None:
            while not stop.wait(interval):
                try:
                    self.refresh()
                except Exception:  # the watcher must outlive any one bad export
                    logger.exception("could not reload the model from %s", self.directory)

        thread = threading.Thread(target=loop, name="model-watcher", daemon=True)
        thread.start()
        return thread
