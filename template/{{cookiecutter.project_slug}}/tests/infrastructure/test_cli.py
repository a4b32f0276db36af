"""What a user reads: the command line prints the project's own lines, not the libraries'
logs and warnings, and a configuration or data error as one line naming the file (or the
environment variable) and the key, without a traceback (unless --verbose)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from {{ cookiecutter.project_slug }}.config import ENV_PREFIX, Settings

from ..conftest import PROJECT_ROOT, workspace_environment
from ..contract_cases import BREAKABLE, invalid_value

pytestmark = pytest.mark.infrastructure

PACKAGE = "{{ cookiecutter.project_slug }}"
# What each step's line opens with: ingest, train, and promote's verdict.
PIPELINE_LINES: tuple[tuple[str, ...], ...] = (
    ("ingested ",),
    ("trained ",),
    ("PROMOTE: ", "KEEP CHAMPION: "),
)


def run_cli(*arguments: str, env: dict[str, str], cwd: Path = PROJECT_ROOT) -> tuple[int, str]:
    """The CLI in a process of its own, as `make` runs it: exit code and everything it
    printed (stdout and stderr, in order)."""
    environment = {**os.environ, **env}
    # MLflow exports the URI a client in this process was given; it would win over ours.
    environment.pop("MLFLOW_TRACKING_URI", None)
    done = subprocess.run(  # noqa: S603  # fixed arguments, no shell
        [sys.executable, "-m", PACKAGE, *arguments],
        cwd=cwd,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        check=False,
    )
    return done.returncode, done.stdout


def test_the_pipeline_prints_only_the_projects_own_lines(tmp_path: Path) -> None:
    """`make pipeline` says what each step did, one line each: no tracker's or other
    library's log line, no warning."""
    # A short search: its trials are what could print (Optuna logs each one by default).
    env = {**workspace_environment(tmp_path), f"{ENV_PREFIX}TRAIN__N_TRIALS": "3"}
    code, output = run_cli("pipeline", env=env)
    assert code == 0, output
    lines = output.splitlines()
    assert len(lines) == len(PIPELINE_LINES), output
    for line, opening in zip(lines, PIPELINE_LINES, strict=True):
        assert line.startswith(opening), output


def test_verbose_shows_tracebacks(tmp_path: Path) -> None:
    """--verbose hides nothing: an error comes with its traceback."""
    params = _params(tmp_path, "train", cv_folds="five")
    code, output = run_cli("--verbose", "ingest", env={f"{ENV_PREFIX}PARAMS": str(params)})
    assert code != 0
    assert "Traceback" in output
    assert "ConfigurationError" in output


def _params(directory: Path, section: str, **values: object) -> Path:
    """params.yaml with `values` set in `section`, written in `directory`."""
    params = yaml.safe_load((PROJECT_ROOT / "params.yaml").read_text(encoding="utf-8"))
    params[section] = {**params.get(section, {}), **values}
    path = directory / "params.yaml"
    path.write_text(yaml.safe_dump(params), encoding="utf-8")
    return path


def _breached_raw_data(settings: Settings, directory: Path) -> Path:
    """The raw data with one value outside the contract (BREAKABLE's invalid value)."""
    assert BREAKABLE is not None  # the target's bounds at least
    raw = pd.read_csv(settings.data.raw_path)
    raw[BREAKABLE.name] = raw[BREAKABLE.name].astype(object)
    raw.loc[3, BREAKABLE.name] = invalid_value(BREAKABLE)
    path = directory / "raw.csv"
    raw.to_csv(path, index=False)
    return path


@pytest.mark.parametrize(
    ("case", "command"),
    [
        ("a wrong type in params.yaml", "train"),
        ("an unknown key in params.yaml", "train"),
        ("a wrong type in an environment variable", "train"),
        ("a data contract breach in the raw data", "ingest"),
        ("an unknown role in contract.yaml", "ingest"),
    ],
)
def test_an_error_is_one_line_naming_the_file_and_the_key(
    case: str, command: str, settings: Settings, tmp_path: Path
) -> None:
    """Infrastructure: a configuration or data error exits non-zero with one line naming
    where (the file, or the variable) and what (the key, or the column)."""
    env = workspace_environment(tmp_path)
    if case == "a wrong type in params.yaml":
        where, what = str(_params(tmp_path, "train", cv_folds="five")), "train.cv_folds"
        env[f"{ENV_PREFIX}PARAMS"] = where
    elif case == "an unknown key in params.yaml":
        where, what = str(_params(tmp_path, "trian", model="random_forest")), "trian"
        env[f"{ENV_PREFIX}PARAMS"] = where
    elif case == "a wrong type in an environment variable":
        where, what = f"{ENV_PREFIX}GATE__MIN_ROC_AUC", "gate.min_roc_auc"
        env[where] = "high"
    elif case == "a data contract breach in the raw data":
        assert BREAKABLE is not None  # the target's bounds at least
        where, what = str(_breached_raw_data(settings, tmp_path)), f"'{BREAKABLE.name}'"
        env[f"{ENV_PREFIX}DATA__RAW_PATH"] = where
    else:
        spec = yaml.safe_load((PROJECT_ROOT / "contract.yaml").read_text(encoding="utf-8"))
        first = next(iter(spec["columns"]))
        spec["columns"][first]["role"] = "unused"
        where, what = str(tmp_path / "contract.yaml"), f"columns.{first}.role"
        Path(where).write_text(yaml.safe_dump(spec), "utf-8")
        env[f"{ENV_PREFIX}CONTRACT"] = where
    code, output = run_cli(command, env=env)
    assert code != 0, output
    assert len(output.splitlines()) == 1, output
    assert output.startswith("error: "), output
    assert where in output, output
    assert what in output, output
