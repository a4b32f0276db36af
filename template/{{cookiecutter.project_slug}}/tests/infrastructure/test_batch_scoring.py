"""Batch scoring (`score`, serving/batch.py): the API's scores for a file, streamed in chunks;
rows that break the contract go to the rejects; bad input is one line naming the file, and
an error or an interruption leaves no file behind."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from {{ cookiecutter.project_slug }}.config import ENV_PREFIX, Settings, get_settings
from {{ cookiecutter.project_slug }}.data.contract import CONTRACT, MODEL_INPUTS
from {{ cookiecutter.project_slug }}.pipeline import score_batch
from {{ cookiecutter.project_slug }}.security import TrustedSigner
from {{ cookiecutter.project_slug }}.serving import batch
from {{ cookiecutter.project_slug }}.serving.app import create_app
from {{ cookiecutter.project_slug }}.serving.batch import (
    OUTPUT_SCHEMA,
    REJECTS_SCHEMA,
    BatchScoringError,
    rejects_path,
    score_file,
)
from {{ cookiecutter.project_slug }}.serving.slot import Served

from ..conftest import PROJECT_ROOT, terminate
from ..contract_cases import CATEGORICAL, INPUT_COLUMNS, NUMERIC, invalid_value
from .test_cli import run_cli

pytestmark = pytest.mark.infrastructure

CHUNK = 64  # rows per chunk here: the held-out set is several chunks
SIGNERS = get_settings().serve.trusted_signers  # who signed champion_dir (conftest)


def write(frame: pd.DataFrame, path: Path) -> str:
    if path.suffix == ".csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path, index=False)
    return str(path)


def read(path: str) -> pd.DataFrame:
    frame: pd.DataFrame = pq.read_table(path).to_pandas()
    return frame


@pytest.fixture
def scorer_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The rows of each call of the batch's scorer."""
    calls: list[int] = []
    original = batch.load_champion

    def counting(model_dir: Path, signers: Sequence[TrustedSigner]) -> Served:
        served = original(model_dir, signers)

        def score(columns: Any) -> Any:
            calls.append(len(columns[MODEL_INPUTS[0]]))
            return served.scorer(columns)

        return served._replace(scorer=score)

    monkeypatch.setattr(batch, "load_champion", counting)
    return calls


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_the_batch_scores_are_the_apis(
    suffix: str,
    holdout_frame: pd.DataFrame,
    champion_dir: Path,
    tmp_path: Path,
    scorer_calls: list[int],
) -> None:
    """Infrastructure 3: a file scored in chunks gets the API's probabilities, decisions,
    threshold and model version, row by row; no chunk holds more than the chunk size."""
    source = write(holdout_frame, tmp_path / f"input{suffix}")  # sensitive columns included
    result = score_file(
        source, str(tmp_path / "scores.parquet"), champion_dir, CHUNK, signers=SIGNERS
    )
    assert (result.rows, result.scored, result.rejected) == (len(holdout_frame),) * 2 + (0,)
    scores = read(result.output)
    assert pq.read_schema(result.output).equals(OUTPUT_SCHEMA)
    with TestClient(create_app(champion_dir)) as client:
        response = client.post(
            "/predict/batch?compact=true",
            json={"instances": holdout_frame[list(MODEL_INPUTS)].to_dict("records")},
        )
    api = response.json()
    assert scores["row"].tolist() == list(range(len(holdout_frame)))
    for name in OUTPUT_SCHEMA.names:  # the task's answer, as the API gives it
        if name in api and name not in ("threshold", "model_version"):
            assert scores[name].tolist() == api[name], name
    if "probabilities" in api:  # multiclass: one column per class
        for name in CONTRACT.class_names:
            probabilities = [row[name] for row in api["probabilities"]]
            assert scores[f"probability_{name}"].tolist() == probabilities
    if "threshold" in OUTPUT_SCHEMA.names:
        assert set(scores["threshold"]) == {api["threshold"]}
    assert set(scores["model_version"]) == {api["model_version"]}
    assert max(scorer_calls) <= CHUNK
    assert len(scorer_calls) == math.ceil(len(holdout_frame) / CHUNK)
    assert read(result.rejects).empty


def breached(frame: pd.DataFrame) -> tuple[pd.DataFrame, dict[int, str]]:
    """`frame` with rows that break the contract, and the column each one names: a value
    the contract refuses in every input that has one, text in a numeric input and a missing
    value in a required input."""
    bad, breaches = frame.copy(), {}
    edits = [(c.name, invalid_value(c)) for c in INPUT_COLUMNS if invalid_value(c) is not None]
    edits += [(c.name, "lots") for c in NUMERIC[:1]]  # not a number
    required = [c for c in (*CATEGORICAL, *NUMERIC) if not c.nullable]
    edits += [(c.name, None) for c in required[:1]]  # missing
    for row, (column, value) in enumerate(edits, start=3):
        bad[column] = bad[column].astype(object)
        bad.loc[row, column] = value
        breaches[row] = column
    return bad, breaches


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_rows_that_break_the_contract_are_rejected_the_others_scored(
    suffix: str, holdout_frame: pd.DataFrame, champion_dir: Path, tmp_path: Path
) -> None:
    """Data 1: each row that breaks the contract is in the rejects file with its position
    and a reason naming the column; every other row is scored."""
    frame, breaches = breached(holdout_frame)
    if suffix == ".parquet":  # a Parquet column holds one type: numbers with text are text
        frame = frame.astype({c.name: str for c in NUMERIC if frame[c.name].dtype == object})
    source = write(frame, tmp_path / f"input{suffix}")
    result = score_file(
        source, str(tmp_path / "scores.parquet"), champion_dir, CHUNK, signers=SIGNERS
    )
    rejects = read(result.rejects)
    assert pq.read_schema(result.rejects).equals(REJECTS_SCHEMA)
    assert rejects["row"].tolist() == sorted(breaches)
    for row, reason in zip(rejects["row"], rejects["reason"], strict=True):
        assert reason.startswith(f"{breaches[row]}: "), reason
    scored = read(result.output)["row"].tolist()
    assert scored == [row for row in range(len(frame)) if row not in breaches]
    assert result.rejected == len(breaches)


def test_an_empty_input_gives_an_empty_output_with_its_schema(
    holdout_frame: pd.DataFrame, champion_dir: Path, tmp_path: Path
) -> None:
    """A header without rows is an empty batch, not an error: both files, no rows."""
    source = write(holdout_frame.head(0), tmp_path / "input.csv")
    result = score_file(
        source, str(tmp_path / "scores.parquet"), champion_dir, CHUNK, signers=SIGNERS
    )
    assert result.rows == 0
    assert pq.read_table(result.output).num_rows == 0
    assert pq.read_schema(result.output).equals(OUTPUT_SCHEMA)
    assert pq.read_table(result.rejects).num_rows == 0


def ragged(frame: pd.DataFrame, path: Path) -> None:
    """A CSV that breaks off after several chunks: a row with one field too many, far past
    the first block the reader parses (64 KiB at least)."""
    copies = 1 + 4 * batch.MIN_BLOCK_BYTES // len(frame.to_csv(index=False))  # any data size
    lines = pd.concat([frame] * copies).to_csv(index=False).splitlines()
    assert len("\n".join(lines[:-10])) > 3 * batch.MIN_BLOCK_BYTES
    lines.insert(len(lines) - 10, lines[-10] + ",extra")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("a missing column", f"missing required column(s) {MODEL_INPUTS[-1]}"),
        ("no such file", "not found"),
        ("no header", "cannot be read as CSV"),
        ("a ragged row after several chunks", "cannot be read as CSV"),
        ("a file that is not Parquet", "cannot be read as Parquet"),
        ("an unknown suffix", "not a .csv or .parquet file"),
        ("an unknown URL scheme", "cannot be opened"),
        ("no champion", "no model in"),
    ],
)
def test_bad_input_is_one_line_naming_the_file_and_nothing_is_written(
    case: str, message: str, holdout_frame: pd.DataFrame, champion_dir: Path, tmp_path: Path
) -> None:
    """Infrastructure: the error names the file and what is wrong; the output's directory
    is left as it was (no output, no rejects, no temporary file)."""
    inputs, out = tmp_path / "in", tmp_path / "out"
    inputs.mkdir()
    model_dir = tmp_path / "no-model" if case == "no champion" else champion_dir
    source = str(inputs / "a.csv")
    if case == "a missing column":
        write(holdout_frame.drop(columns=MODEL_INPUTS[-1]), inputs / "a.csv")
    elif case == "no such file":
        source = str(inputs / "absent.csv")
    elif case == "no header":
        Path(source).write_text("", encoding="utf-8")
    elif case == "a ragged row after several chunks":
        ragged(holdout_frame, inputs / "a.csv")
    elif case == "a file that is not Parquet":
        source = str(inputs / "a.parquet")
        Path(source).write_text(holdout_frame.to_csv(index=False), encoding="utf-8")
    elif case == "an unknown suffix":
        source = str(inputs / "a.txt")
        Path(source).write_text(holdout_frame.to_csv(index=False), encoding="utf-8")
    elif case == "an unknown URL scheme":
        source = "nosuchscheme://bucket/a.csv"
    else:
        write(holdout_frame, inputs / "a.csv")
    with pytest.raises(BatchScoringError) as raised:
        score_file(source, str(out / "scores.parquet"), model_dir, CHUNK, signers=SIGNERS)
    text = str(raised.value)
    assert len(text.splitlines()) == 1, text
    assert message in text, text
    assert (str(model_dir) if case == "no champion" else source) in text, text
    assert not out.exists() or list(out.iterdir()) == []


def test_an_interrupted_run_leaves_no_file_and_the_previous_output_intact(
    holdout_frame: pd.DataFrame,
    champion_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    sigterm_announced: list[str],
) -> None:
    """Infrastructure: SIGTERM in the middle of the stream (the third chunk) stops the run
    and removes its temporary files: the previous run's output and rejects stay whole."""
    source = write(holdout_frame, tmp_path / "input.csv")
    output = tmp_path / "out" / "scores.parquet"
    chunk = len(holdout_frame) // 4  # four chunks or more, whatever the data's size
    score_file(source, str(output), champion_dir, chunk, signers=SIGNERS)
    before = {path.name: path.read_bytes() for path in output.parent.iterdir()}
    original = batch.score_rows
    chunks: list[int] = []

    def interrupted(served: Any, valid: pd.DataFrame, *engine: Any) -> Any:
        chunks.append(len(valid))
        if len(chunks) == 3:
            terminate()
        return original(served, valid, *engine)

    monkeypatch.setattr(batch, "score_rows", interrupted)
    with pytest.raises(SystemExit):
        score_file(source, str(output), champion_dir, chunk, signers=SIGNERS)
    assert sigterm_announced == ["terminated"]
    assert len(chunks) == 3
    after = {path.name: path.read_bytes() for path in output.parent.iterdir()}
    assert after == before
    assert sorted(before) == sorted([output.name, Path(rejects_path(str(output))).name])


def test_the_cli_scores_a_file_by_its_identifiers(
    holdout_frame: pd.DataFrame, champion_dir: Path, tmp_path: Path
) -> None:
    """`score` prints one line; with an identifier column declared in the contract, the
    scores carry it instead of the row's position."""
    contract = (PROJECT_ROOT / "contract.yaml").read_text(encoding="utf-8")
    declared = contract.replace(
        "\ncolumns:\n",
        "\ncolumns:\n  reference:\n    dtype: str\n    description: The case's reference\n"
        "    role: identifier\n",
        1,
    )
    (tmp_path / "contract.yaml").write_text(declared, encoding="utf-8")
    frame, breaches = breached(holdout_frame)
    frame.insert(0, "reference", [f"case-{i}" for i in range(len(frame))])
    source = write(frame, tmp_path / "input.csv")
    output = tmp_path / "scores.parquet"
    env = {
        f"{ENV_PREFIX}CONTRACT": str(tmp_path / "contract.yaml"),
        f"{ENV_PREFIX}SERVE__MODEL_DIR": str(champion_dir),
    }
    code, printed = run_cli("score", "--input", source, "--output", str(output), env=env)
    assert code == 0, printed
    assert printed.splitlines() == [
        f"scored {len(frame) - len(breaches)} of {len(frame)} rows with model v1 -> {output}; "
        f"{len(breaches)} rejected -> {rejects_path(str(output))}"
    ]
    scores = read(str(output))
    assert scores.columns.tolist() == ["reference", *OUTPUT_SCHEMA.names[1:]]
    kept = [i for i in range(len(frame)) if i not in breaches]
    assert scores["reference"].tolist() == [f"case-{i}" for i in kept]


def test_the_scheduled_run_scores_the_days_input_into_the_days_output(
    holdout_frame: pd.DataFrame, champion_dir: Path, settings: Settings, tmp_path: Path
) -> None:
    """Infrastructure 3: the scheduled batch scoring (pipeline.score_batch, which every
    orchestrator's batch_scoring job and CI's schedule run) scores params.yaml's
    score.input into score.output with {date} the run's day, the champion's scores."""
    day = date(2026, 1, 2)  # not today: the run scores the day it is given
    write(holdout_frame, tmp_path / "applicants-2026-01-02.parquet")
    scheduled = settings.score.model_copy(
        update={
            "input": str(tmp_path / "applicants-{date}.parquet"),
            "output": str(tmp_path / "scores" / "{date}.parquet"),
            "chunk_rows": CHUNK,
        }
    )
    assert settings.serve.model_dir == champion_dir  # where the run reads the champion
    result = score_batch(settings.model_copy(update={"score": scheduled}), day)
    assert result.output == str(tmp_path / "scores" / "2026-01-02.parquet")
    expected = score_file(
        str(tmp_path / "applicants-2026-01-02.parquet"), str(tmp_path / "by-hand.parquet"),
        champion_dir, CHUNK, signers=SIGNERS,
    )  # fmt: skip
    assert read(result.output).equals(read(expected.output))
    assert result.scored == len(holdout_frame)
