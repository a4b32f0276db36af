"""The inference log: every prediction the API serves, for monitoring on real traffic.

Each record holds the request id (and the row within a batch), the time, the model version,
the model inputs and the output (the served value, tasks/: a probability or the predicted
value, and the decision). The API only appends to an
in-memory queue, already serialised (one JSON line per request, its inputs and outputs as
columns: microseconds); a background thread writes the queue every `flush_seconds` as one
JSON Lines file per flush under `<url>/predictions/date=<YYYY-MM-DD>/`, so the request path
never waits for storage. Serialising on the request path rather than in the writer keeps
the writer's hold on the GIL, which would stall the event loop, to a join of bytes and a
write (`make bench` prints the log's cost: p99 and throughput with it on and off). `url` is
any fsspec URL: a local directory (the default) or an object store (s3://, gs://, az://
with fsspec's filesystem package for it installed).

Privacy: the columns in `drop` are never written; those in `hash` are written as a salted
SHA-256 (`hash_salt`, best set through the environment), so they can still be counted or
joined but not read back.

With a shadow challenger (serving/shadow.py) its scores of each request are written the
same way under `<url>/challenger/date=<YYYY-MM-DD>/`, one line per request with its id and
version; `read_window` joins them to the champion's rows (CHALLENGER_* columns).

Ground truth arrives later: CSV files of `request_id,row,<target>` rows under
`<url>/labels/` (written by whatever learns the outcome; `row` is the position in a batch
request, 0 for /predict); `read_window` joins them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import queue
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import fsspec  # type: ignore[import-untyped]
import numpy as np
import pandas as pd
from pydantic_core import to_json

from ..config import InferenceLogSettings
from ..data.contract import TARGET

logger = logging.getLogger(__name__)

PREDICTIONS = "predictions"
LABELS = "labels"
SERVED_VALUE = "served_value"
SERVED_LABEL = "served_label"
CHALLENGER = "challenger"  # the shadow challenger's scores, beside PREDICTIONS
CHALLENGER_VERSION = "challenger_version"
CHALLENGER_VALUE = "challenger_value"
CHALLENGER_LABEL = "challenger_label"


@dataclass(frozen=True)
class _Line:
    """One request's predictions, serialised."""

    day: str
    line: bytes
    rows: int
    kind: str = PREDICTIONS  # or CHALLENGER


def _hash(value: Any, salt: str) -> str:
    return hashlib.sha256(f"{salt}{value}".encode()).hexdigest()[:16]


class InferenceLog:
    """Records predictions off the request path (see the module's docstring)."""

    def __init__(
        self,
        settings: InferenceLogSettings,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.fs, self.root = fsspec.core.url_to_fs(settings.url)
        self._drop, self._hash = set(settings.drop), set(settings.hash)
        # Day directories made so far: an object store's makedirs is a request (s3fs and
        # gcsfs check the bucket), so once a day rather than at every flush.
        self._directories: set[str] = set()
        self._queue: queue.SimpleQueue[_Line] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def record(
        self,
        request_id: str,
        model_version: str,
        columns: Mapping[str, list[Any]],
        served: np.ndarray,
        decided: np.ndarray,
    ) -> datetime:
        """Queue one request's predictions as its JSON line (called on the request path:
        one serialisation per request, whatever its size); returns the time it records."""
        timestamp = self.clock()
        salt = self.settings.hash_salt
        logged = {
            name: [_hash(v, salt) for v in values] if name in self._hash else values
            for name, values in columns.items()
            if name not in self._drop
        }
        line = to_json(
            {
                "request_id": request_id,
                "timestamp": timestamp.isoformat(),
                "model_version": model_version,
                "columns": {
                    **logged,
                    SERVED_VALUE: served.tolist(),
                    SERVED_LABEL: decided.tolist(),
                },
            }
        )
        self._queue.put(_Line(f"{timestamp:%Y-%m-%d}", line, len(served)))
        return timestamp

    def record_challenger(
        self,
        request_id: str,
        timestamp: datetime,
        version: str,
        served: np.ndarray,
        decided: np.ndarray,
    ) -> None:
        """Queue the challenger's scores of a request recorded at `timestamp` (called by the
        shadow's thread, off the request path)."""
        line = to_json(
            {
                "request_id": request_id,
                "timestamp": timestamp.isoformat(),
                CHALLENGER_VERSION: version,
                "columns": {CHALLENGER_VALUE: served.tolist(), CHALLENGER_LABEL: decided.tolist()},
            }
        )
        self._queue.put(_Line(f"{timestamp:%Y-%m-%d}", line, len(served), CHALLENGER))

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="inference-log", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Write what is queued and stop the writer."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self.flush()

    def _run(self) -> None:
        failing = ""  # the last write error, said once rather than at every flush
        while not self._stop.wait(self.settings.flush_seconds):
            try:
                written = self.flush()
            except Exception as error:  # a full disk or a lost bucket must not stop the API
                if repr(error) != failing:
                    logger.error(
                        "could not write the inference log to %s (%r): predictions go "
                        "unlogged until it can",
                        self.settings.url,
                        error,
                    )
                failing = repr(error)
            else:
                if written and failing:
                    logger.info("the inference log is written to %s again", self.settings.url)
                    failing = ""

    def _write(self, directory: str, data: bytes) -> None:
        name = f"{self.clock():%Y%m%dT%H%M%S%f}-{os.getpid()}-{uuid.uuid4().hex[:8]}.jsonl"
        with self.fs.open(f"{directory}/{name}", "wb") as stream:
            stream.write(data)

    def flush(self) -> int:
        """Write the queued predictions as one file per day; returns the rows written."""
        by_day: dict[tuple[str, str], list[bytes]] = {}
        rows = 0
        while True:
            try:
                queued = self._queue.get_nowait()
            except queue.Empty:
                break
            by_day.setdefault((queued.kind, queued.day), []).append(queued.line)
            rows += queued.rows if queued.kind == PREDICTIONS else 0
        for (kind, day), lines in by_day.items():
            directory = f"{self.root}/{kind}/date={day}"
            data = b"\n".join(lines) + b"\n"
            if directory not in self._directories:
                self.fs.makedirs(directory, exist_ok=True)
                self._directories.add(directory)
            try:
                self._write(directory, data)
            except FileNotFoundError:  # the directory went away (a clean-up): make it again
                self.fs.makedirs(directory, exist_ok=True)
                self._write(directory, data)
        return rows


def _read_labels(fs: Any, paths: list[str]) -> pd.DataFrame:
    frames = []
    for path in sorted(paths):
        with fs.open(path, "rb") as stream:
            frames.append(pd.read_csv(stream))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _read_predictions(fs: Any, paths: list[str]) -> pd.DataFrame:
    """One row per prediction (or challenger score), from files of one JSON line per request."""
    frames = []
    for path in sorted(paths):
        with fs.open(path, "rb") as stream:
            for line in stream:
                record = json.loads(line)
                columns = record.pop("columns")
                count = len(next(iter(columns.values())))  # every column has a value per row
                frames.append(pd.DataFrame({**columns, **record, "row": range(count)}))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def read_window(url: str, start: datetime, end: datetime) -> pd.DataFrame:
    """The predictions logged in [start, end), with the target column where labels have
    arrived (NaN elsewhere) and the challenger's scores where it scored them (CHALLENGER_*
    columns, when a challenger ever did). Empty when nothing was logged."""
    fs, root = fsspec.core.url_to_fs(url)
    days = [start.date() + timedelta(days=i) for i in range((end.date() - start.date()).days + 1)]
    paths = [
        path
        for day in days
        for path in fs.glob(f"{root}/{PREDICTIONS}/date={day:%Y-%m-%d}/*.jsonl")
    ]
    frame = _read_predictions(fs, paths)
    if frame.empty:
        return frame
    stamps = pd.to_datetime(frame["timestamp"], utc=True, format="ISO8601")
    frame = frame[(stamps >= start) & (stamps < end)].reset_index(drop=True)
    shadow = _read_predictions(
        fs, [p for day in days for p in fs.glob(f"{root}/{CHALLENGER}/date={day:%Y-%m-%d}/*.jsonl")]
    )
    if not shadow.empty:
        scores = [CHALLENGER_VERSION, CHALLENGER_VALUE, CHALLENGER_LABEL]
        frame = frame.merge(
            shadow[["request_id", "row", *scores]], on=["request_id", "row"], how="left"
        )
    labels = _read_labels(fs, fs.glob(f"{root}/{LABELS}/*.csv"))
    if labels.empty:
        return frame.assign(**{TARGET.name: np.nan})
    labels = labels.drop_duplicates(["request_id", "row"], keep="last")
    return frame.merge(
        labels[["request_id", "row", TARGET.name]], on=["request_id", "row"], how="left"
    )


def write_labels(url: str, labels: pd.DataFrame, name: str) -> str:
    """Write ground truth (columns request_id, row and the target) as `<url>/labels/<name>.csv`."""
    fs, root = fsspec.core.url_to_fs(url)
    fs.makedirs(f"{root}/{LABELS}", exist_ok=True)
    path = f"{root}/{LABELS}/{name}.csv"
    with fs.open(path, "wb") as stream:
        stream.write(labels[["request_id", "row", TARGET.name]].to_csv(index=False).encode())
    return path
