"""The shadow challenger: a candidate that passed the gate with `gate.shadow` on, served from
the directory beside the champion's (registry/model_store.py `challenger_dir_of`). Every
request is scored by it too, and both scores go to the inference log; the answer is always
the champion's.

Where the challenger scores: in a background thread of its own, not on the request path.
The request only puts a reference to its columns (already parsed, never copied) on a queue:
a microsecond. The thread scores what queued since it last looked in one call (so a burst
costs one scorer call, not one per request) and queues the scores for the inference log's
writer. So a slow challenger (a pipeline the compiler cannot translate costs milliseconds a
call) delays its own log lines, never an answer, and a failing one (an exception, a damaged
export) loses its scores, said once in the log, never a request. Scoring after the response
inside the request's task (Starlette's background tasks) would hold the connection's next
request behind it; scoring in the inference log's writer would stall the champion's lines
behind the challenger's. Its only cost to requests is the GIL the thread holds while it
scores: `make bench` prints it (p50/p99 champion-only beside with the shadow).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from ..tasks import TASK
from .inference_log import InferenceLog
from .slot import ModelSlot, Served

logger = logging.getLogger(__name__)

MAX_ROWS_PER_CALL = 4096  # rows of queued requests scored in one call


class ChallengerSlot(ModelSlot):
    """The challenger's slot: swapped like the champion's, and emptied when its directory
    goes (the monitor promoted or retired it)."""

    def refresh(self) -> None:
        if self._signature() is None:
            if self.served is not None:
                logger.info("no challenger in %s any more: shadow scoring stops", self.directory)
            self.served, self._seen = None, None
            return
        try:
            super().refresh()
        except Exception:  # whatever a challenger's export holds, the API keeps answering
            logger.exception("the challenger in %s cannot be loaded: not shadowed", self.directory)
            self.served = None


@dataclass(frozen=True)
class _Pending:
    request_id: str
    timestamp: datetime
    columns: Mapping[str, list[Any]]
    rows: int


class Shadow:
    """Scores every request with the challenger off the request path (the module's
    docstring says how and why)."""

    def __init__(self, slot: ChallengerSlot, log: InferenceLog) -> None:
        self.slot = slot
        self.log = log
        self._queue: queue.Queue[_Pending | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._failing = ""  # the last scoring error, said once rather than per batch

    def submit(
        self, request_id: str, timestamp: datetime, columns: Mapping[str, list[Any]], rows: int
    ) -> None:
        """Queue a request for the challenger (the request path's only shadow work)."""
        if self.slot.served is not None:
            self._queue.put(_Pending(request_id, timestamp, columns, rows))

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="shadow", daemon=True)
        self._thread.start()

    def wait_idle(self) -> None:
        """Wait until every request queued so far is scored and its scores are queued for
        the inference log (the simulation flushes the log after a day's traffic)."""
        self._queue.join()

    def stop(self) -> None:
        """Score what is queued, then stop (before the inference log's last flush)."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            batch, stopping = ([] if first is None else [first]), first is None
            rows = sum(p.rows for p in batch)
            while rows < MAX_ROWS_PER_CALL:
                try:
                    pending = self._queue.get_nowait()
                except queue.Empty:
                    break
                if pending is None:
                    stopping = True
                    break
                batch.append(pending)
                rows += pending.rows
            served = self.slot.served
            if batch and served is not None:
                self._score(served, batch)
            for _ in range(len(batch) + stopping):
                self._queue.task_done()
            if stopping:
                return

    def _score(self, served: Served, batch: list[_Pending]) -> None:
        try:
            names = batch[0].columns.keys()
            columns: dict[str, list[Any]] = {
                name: [v for p in batch for v in p.columns[name]] for name in names
            }
            output = served.scorer(columns)
            decided = served.decide(output)
            value = TASK.served_value(output)
        except Exception as error:  # a failing challenger must never touch the champion
            if repr(error) != self._failing:
                logger.error(
                    "the challenger v%s cannot score (%r): its shadow scores go unlogged",
                    served.metadata.version,
                    error,
                )
            self._failing = repr(error)
            return
        self._failing = ""
        ends = np.cumsum([p.rows for p in batch])
        for pending, start, end in zip(batch, [0, *ends[:-1]], ends, strict=True):
            self.log.record_challenger(
                pending.request_id,
                pending.timestamp,
                served.metadata.version,
                value[start:end],
                decided[start:end],
            )
