"""Batch scoring (`score`): a CSV or Parquet file of any size, local or at an fsspec URL,
scored by the champion the API serves, with the API's compiled scorer and threshold.

* The input is read in chunks of params.yaml `score.chunk_rows` rows (CSV: pyarrow's
  streaming reader; Parquet: its row batches), so memory follows the chunk size, not the
  file's. Only the columns the model needs are read (and the contract's identifier columns).
* Each chunk is validated against the data contract (its pandera schema, the model inputs
  as the API takes them): the rows that break it go to the rejects file with their position
  and the reason; the others are scored.
* The output (Parquet) holds, per scored row, the contract's identifier columns (or, without
  any, the row's position among the input's data rows, from 0), the task's answer (binary:
  the probability, the decision as the API names it and the threshold; multiclass: each
  class's probability, `probability_<class>`, and the decision; regression: the prediction)
  and the model version. The
  rejects go beside it, `<stem>.rejects.parquet` (row, reason), written even when empty so
  that a stale one never stays.
* Both are written under hidden temporary names in the output's directory and renamed at
  the end: an error or an interruption (Ctrl+C, SIGTERM) removes them, so a reader never
  sees a half-written file and an earlier output stays as it was. On an object store the
  rename is a copy: the output appears when complete, never partly.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import fsspec  # type: ignore[import-untyped]
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from pandera.errors import SchemaErrors

from ..compute import LOCAL, Engine
from ..data.contract import COLUMNS, CONTRACT, MODEL_INPUTS, dataframe_schema
from ..registry import model_store
from ..security import TrustedSigner
from ..tasks import TASK
from .scorer import frame_columns
from .slot import Served, decision_names

IDENTIFIERS = tuple(c for c in COLUMNS if c.role == "identifier")
NEEDED = tuple([*(c.name for c in IDENTIFIERS), *MODEL_INPUTS])  # the columns read
SCHEMA = dataframe_schema(with_target=False).select_columns(list(NEEDED))
ARROW_TYPES = {int: pa.int64(), float: pa.float64(), str: pa.string()}
ROW = "row"  # a row's position among the input's data rows (0: the first after the header)
ANSWER_TYPES: dict[str, list[tuple[str, pa.DataType]]] = {
    "binary": [("probability", pa.float64()), ("decision", pa.string()),
               ("threshold", pa.float64())],
    "multiclass": [*((f"probability_{name}", pa.float64()) for name in CONTRACT.class_names),
                   ("decision", pa.string())],
    "regression": [("prediction", pa.float64())],
}  # fmt: skip
OUTPUT_SCHEMA = pa.schema(
    [
        *([(c.name, ARROW_TYPES[c.dtype]) for c in IDENTIFIERS] or [(ROW, pa.int64())]),
        *ANSWER_TYPES[TASK.name],
        ("model_version", pa.string()),
    ]
)
REJECTS_SCHEMA = pa.schema([(ROW, pa.int64()), ("reason", pa.string())])
HEAD_BYTES = 1 << 16  # of a CSV, read first for its header and the width of its rows
MIN_BLOCK_BYTES = 1 << 16


class BatchScoringError(ValueError):
    """The input, the output or the champion is not usable; one line naming which file."""


@dataclass(frozen=True)
class BatchResult:
    """What a run did: rows read, scored and rejected, and where they went."""

    rows: int
    scored: int
    rejected: int
    output: str
    rejects: str
    model_version: str

    def __str__(self) -> str:
        """The one line `score` and the orchestrators' scoring jobs print."""
        return (
            f"scored {self.scored} of {self.rows} rows with model v{self.model_version} -> "
            f"{self.output}; {self.rejected} rejected -> {self.rejects}"
        )


def load_champion(model_dir: Path, signers: Sequence[TrustedSigner]) -> Served:
    """The champion as the API's slot loads it (serving/slot.py): verified, its compiled
    scorer, its metadata and the threshold that ships with it."""
    try:
        return Served.of(*model_store.load(model_dir, signers))
    except (model_store.ModelNotFoundError, model_store.CorruptModelError) as error:
        raise BatchScoringError(str(error)) from None


# ---- Reading: the needed columns, in chunks of at most chunk_rows rows.
def _format(url: str) -> str:
    name = url.split("?", 1)[0].lower()
    if fsspec.utils.infer_compression(name):  # e.g. data.csv.gz: fsspec decompresses it
        name = name.rsplit(".", 1)[0]
    for suffix, kind in ((".csv", "CSV"), (".parquet", "Parquet"), (".pq", "Parquet")):
        if name.endswith(suffix):
            return kind
    raise BatchScoringError(f"{url}: not a .csv or .parquet file (its suffix says which)")


def _open(url: str, compression: str | None) -> IO[bytes]:
    try:
        stream: IO[bytes] = fsspec.open(url, "rb", compression=compression).open()
    except FileNotFoundError:
        raise BatchScoringError(f"{url}: not found") from None
    except (OSError, ValueError, ImportError) as error:  # a bad URL, a protocol not installed
        raise BatchScoringError(f"{url}: cannot be opened: {error}") from None
    return stream


def _csv_header(url: str, chunk_rows: int) -> tuple[list[str], int]:
    """The CSV's column names, and a block size holding about `chunk_rows` of its rows."""
    with _open(url, "infer") as stream:
        head = stream.read(HEAD_BYTES)
    lines = head.count(b"\n")
    sample = head[: head.rfind(b"\n") + 1] if lines else head  # whole rows only
    try:
        names = pacsv.read_csv(io.BytesIO(sample)).column_names
    except pa.ArrowException as error:  # no header at all, a ragged row
        raise BatchScoringError(f"{url}: cannot be read as CSV: {error}") from None
    return names, max(len(sample) * chunk_rows // max(lines, 1), MIN_BLOCK_BYTES)


def _csv_batches(url: str, block_size: int) -> Iterator[pa.RecordBatch]:
    # Read as text: a value that is not a number is then the row's problem (a reject),
    # not the whole file's; the contract's schema converts the rest.
    options = pacsv.ConvertOptions(
        include_columns=list(NEEDED),
        column_types=dict.fromkeys(NEEDED, pa.string()),
        strings_can_be_null=True,
    )
    with _open(url, "infer") as stream:
        read = pacsv.ReadOptions(block_size=block_size)
        yield from pacsv.open_csv(stream, read_options=read, convert_options=options)


def _parquet_names(url: str) -> list[str]:
    with _open(url, None) as stream:
        try:
            return list(pq.ParquetFile(stream).schema_arrow.names)
        except (OSError, pa.ArrowException) as error:
            raise BatchScoringError(f"{url}: cannot be read as Parquet: {error}") from None


def _parquet_batches(url: str, chunk_rows: int) -> Iterator[pa.RecordBatch]:
    with _open(url, None) as stream:
        yield from pq.ParquetFile(stream).iter_batches(batch_size=chunk_rows, columns=NEEDED)


def open_input(url: str, chunk_rows: int) -> Callable[[], Iterator[pa.RecordBatch]]:
    """Check that the input can be read and holds the needed columns (else
    BatchScoringError, before anything is written); returns its chunks' reader."""
    kind = _format(url)
    if kind == "CSV":
        names, block_size = _csv_header(url, chunk_rows)
    else:
        names, block_size = _parquet_names(url), 0

    def batches() -> Iterator[pa.RecordBatch]:
        if kind == "CSV":
            return _csv_batches(url, block_size)
        return _parquet_batches(url, chunk_rows)

    missing = [name for name in NEEDED if name not in names]
    if missing:
        raise BatchScoringError(
            f"{url}: missing required column(s) {', '.join(missing)} (the model inputs of "
            f"{CONTRACT.path}{' and its identifiers' if IDENTIFIERS else ''})"
        )

    def chunks() -> Iterator[pa.RecordBatch]:
        try:
            for batch in batches():
                for start in range(0, batch.num_rows, chunk_rows):
                    yield batch.slice(start, chunk_rows)
        except (OSError, pa.ArrowException) as error:  # e.g. a ragged row further down
            raise BatchScoringError(f"{url}: cannot be read as {kind}: {error}") from None

    return chunks


# ---- Validating and scoring one chunk.
def validate_rows(frame: pd.DataFrame) -> tuple[pd.DataFrame, dict[int, str]]:
    """The rows of `frame` that hold to the contract (converted to its types), and the
    reasons of the others, by index. A value that cannot be converted hides the column's
    other checks from pandera: the rows it names are set aside and the rest checked again."""
    reasons: dict[int, dict[str, str]] = {}
    rows = frame
    while True:
        try:
            return SCHEMA.validate(rows, lazy=True), {
                row: "; ".join(f"{c}: {r}" for c, r in found.items())
                for row, found in sorted(reasons.items())
            }
        except SchemaErrors as errors:
            cases = errors.failure_cases
            located = cases[cases["index"].notna()]
            if located.empty:  # a problem of no row (the columns are checked up front)
                raise BatchScoringError(f"{CONTRACT.path}: {cases.iloc[0].to_dict()}") from None
            for case in located.itertuples():
                found = reasons.setdefault(int(case.index), {})
                found.setdefault(str(case.column), f"{case.check} failed for {case.failure_case!r}")
            rows = rows.drop(index=located["index"].astype(int).unique())


def score_rows(served: Served, valid: pd.DataFrame, engine: Engine = LOCAL) -> pa.Table:
    """The output rows of validated rows: decided as the API decides (the engine runs the
    served scorer over batches of them)."""
    count = len(valid)
    width = (len(CONTRACT.class_names),) if TASK.name == "multiclass" else ()

    def outputs(rows: pd.DataFrame) -> pd.DataFrame:
        # One column per output number (multiclass: one per class): an engine maps frames.
        scored = served.scorer(frame_columns(rows)).reshape(len(rows), -1)
        return pd.DataFrame(scored, columns=[f"output_{i}" for i in range(scored.shape[1])])

    output = np.empty((0, *width))
    if count:
        mapped = engine.map_frame(outputs, valid).to_numpy(dtype=np.float64)
        output = mapped if width else mapped[:, 0]
    keys: dict[str, Any] = {c.name: valid[c.name].to_numpy() for c in IDENTIFIERS} or {
        ROW: valid.index.to_numpy(dtype=np.int64)
    }
    answer: dict[str, Any] = {"prediction": output}  # regression: the value itself
    if TASK.kind == "classifier":
        decided = served.decide(output)
        answer = {"decision": decision_names(decided).astype(str).tolist()}
        if output.ndim == 1:
            answer |= {"probability": output, "threshold": np.full(count, served.threshold)}
        else:
            answer |= {
                f"probability_{name}": output[:, i] for i, name in enumerate(CONTRACT.class_names)
            }
    columns = {**keys, **answer, "model_version": [served.metadata.version] * count}
    return pa.Table.from_pydict(columns, schema=OUTPUT_SCHEMA)


# ---- Writing: temporary names beside the output, renamed at the end.
def rejects_path(output: str) -> str:
    return output.removesuffix(".parquet") + ".rejects.parquet"


def _temporary(fs: Any, path: str) -> str:
    parent, _, name = path.rpartition("/")
    fs.makedirs(parent, exist_ok=True)
    return f"{parent}/.{name}.{uuid.uuid4().hex[:8]}.tmp"


def score_file(
    source: str,
    destination: str,
    model_dir: Path,
    chunk_rows: int,
    engine: Engine = LOCAL,
    *,
    signers: Sequence[TrustedSigner],
) -> BatchResult:
    """Score the file (or URL) `source` into the Parquet file (or URL) `destination` with
    the champion in `model_dir`, signed by one of `signers`, `chunk_rows` rows at a time;
    raises BatchScoringError."""
    if not destination.lower().endswith(".parquet"):
        raise BatchScoringError(f"{destination}: the output is Parquet: name it *.parquet")
    chunks = open_input(source, chunk_rows)
    served = load_champion(model_dir, signers)
    try:
        fs, output = fsspec.core.url_to_fs(destination)
    except (ValueError, ImportError) as error:
        raise BatchScoringError(f"{destination}: cannot be written: {error}") from None
    final = {output: OUTPUT_SCHEMA, rejects_path(output): REJECTS_SCHEMA}
    temporaries: dict[str, str] = {}
    rows = scored = 0
    try:
        with ExitStack() as stack:
            writers = []
            for path, schema in final.items():
                temporaries[path] = _temporary(fs, path)
                stream = stack.enter_context(fs.open(temporaries[path], "wb"))
                writers.append(stack.enter_context(pq.ParquetWriter(stream, schema)))
            output_writer, rejects_writer = writers
            for batch in chunks():
                frame = batch.to_pandas()
                frame.index = pd.RangeIndex(rows, rows + len(frame))
                valid, reasons = validate_rows(frame)
                output_writer.write_table(score_rows(served, valid, engine))
                rejects = {ROW: list(reasons), "reason": list(reasons.values())}
                rejects_writer.write_table(pa.Table.from_pydict(rejects, schema=REJECTS_SCHEMA))
                rows, scored = rows + len(frame), scored + len(valid)
        for path in reversed(final):  # the output last: once it is there, its rejects are too
            fs.mv(temporaries[path], path)
    except BaseException as error:  # an interruption too: no temporary file stays
        for temporary in temporaries.values():
            with suppress(OSError):  # never hide the error that stopped the run
                if fs.exists(temporary):
                    fs.rm(temporary)
        if isinstance(error, OSError):
            raise BatchScoringError(f"{destination}: cannot be written: {error}") from None
        raise
    return BatchResult(
        rows, scored, rows - scored, destination, rejects_path(destination),
        served.metadata.version,
    )  # fmt: skip
