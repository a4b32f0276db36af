"""Bring your own data (`adopt`): the contract inferred from scikit-learn's breast cancer
(binary), wine (multiclass) and diabetes (regression) data, the refusals, the warnings, and
the edits to params.yaml and dvc.yaml. Every test works on copies of the project's files in
a temporary directory: the project itself is never touched."""

from __future__ import annotations

import functools
import hashlib
import http.server
import io
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from pydantic import ValidationError
from sklearn import datasets

from {{ cookiecutter.project_slug }}.config import ENV_PREFIX
from {{ cookiecutter.project_slug }}.data.adopt import Adopted, AdoptError, Options, infer, report
from {{ cookiecutter.project_slug }}.data.adopt_files import ProjectFiles, plan, write
from {{ cookiecutter.project_slug }}.data.contract import load_contract
from {{ cookiecutter.project_slug }}.data.contract_file import ContractFile
from {{ cookiecutter.project_slug }}.data.inference import MIN_ROWS_PER_CLASS

from ..conftest import local_server

pytestmark = pytest.mark.data

PROJECT_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def project(tmp_path: Path) -> ProjectFiles:
    """Copies of the project's params.yaml, contract.yaml and dvc.yaml."""
    root = tmp_path / "project"
    root.mkdir()
    for name in ("params.yaml", "contract.yaml", "dvc.yaml"):
        shutil.copy(PROJECT_ROOT / name, root / name)
    return ProjectFiles(root / "params.yaml", root / "contract.yaml")


def csv(frame: pd.DataFrame, path: Path) -> str:
    frame.to_csv(path, index=False)
    return str(path)


@pytest.fixture
def breast_cancer(tmp_path: Path) -> str:
    return csv(datasets.load_breast_cancer(as_frame=True).frame, tmp_path / "breast_cancer.csv")


@pytest.fixture
def wine(tmp_path: Path) -> str:
    return csv(datasets.load_wine(as_frame=True).frame, tmp_path / "wine.csv")


@pytest.fixture
def diabetes(tmp_path: Path) -> str:  # sex coded 1 and 2
    frame = datasets.load_diabetes(as_frame=True, scaled=False).frame
    return csv(frame, tmp_path / "diabetes.csv")


def adopt(source: str, project: ProjectFiles, target: str = "target", **given: Any) -> Adopted:
    """What the command does: infer, plan every file, then write them."""
    adopted = infer(source, Options(target, **given))
    write(plan(adopted, project))
    return adopted


def snapshot(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def problems(contract: dict[str, Any]) -> list[tuple[tuple[str | int, ...], str]]:
    """Where contract_file.py refuses the contract, and why (pydantic's error types)."""
    try:
        ContractFile.model_validate(contract)
    except ValidationError as error:
        return [(e["loc"], e["type"]) for e in error.errors()]
    return []


def holds_together(contract: dict[str, Any]) -> None:
    """The contract passes contract_file.py's checks, whatever its task."""
    assert problems(contract) == []


def test_breast_cancer_is_binary_with_30_float_features(
    breast_cancer: str, project: ProjectFiles
) -> None:
    adopted = adopt(breast_cancer, project)
    contract = yaml.safe_load(project.contract.read_text(encoding="utf-8"))
    assert contract["task"] == adopted.task == "binary"
    assert contract["target"]["positive"] == 1
    assert set(contract["target"]["classes"]) == {0, 1}
    columns = contract["columns"]
    assert len(columns) == 30
    assert {c["dtype"] for c in columns.values()} == {"float"}
    assert {c["role"] for c in columns.values()} == {"feature"}
    assert contract["fairness"] == []
    assert not adopted.warnings  # no identifier, no constant, no leak
    frame = pd.read_csv(breast_cancer)
    for name, spec in columns.items():  # every value within its bounds, the margin beyond
        assert spec["ge"] <= frame[name].min(), name
        assert spec["le"] > frame[name].max(), name
    assert contract["example"] == frame.drop(columns="target").iloc[0].to_dict()
    assert (project.root / "data" / "raw" / "breast_cancer.csv").read_bytes() == Path(
        breast_cancer
    ).read_bytes()
    loaded = load_contract(project.contract)  # the file itself, as the project loads it
    assert len(loaded.columns) == 30
    assert loaded.fairness == ()
    holds_together(contract)


def test_sensitive_columns_make_a_contract_the_project_loads(
    breast_cancer: str, project: ProjectFiles, tmp_path: Path
) -> None:
    """Text and numeric sensitive columns: categories, a quantile slice, the fairness
    attributes and their gate bounds, in a contract that loads as it is."""
    frame = pd.read_csv(breast_cancer)
    frame.insert(0, "site", ["north", "south", "east"] * 189 + ["north", "south"])
    frame.insert(1, "age", [30 + i % 50 for i in range(len(frame))])
    adopt(csv(frame, tmp_path / "with_people.csv"), project, sensitive=("site", "age"))
    loaded = load_contract(project.contract)
    assert loaded.fairness == ("site", "age_group")
    assert loaded.slices["age_group"].edges == (25, 41, 54, 67, 85)  # ge, quartiles, le + 1
    (site,) = (c for c in loaded.columns if c.name == "site")
    assert (site.role, site.categories) == ("sensitive", ("east", "north", "south"))
    bounds = yaml.safe_load(project.params.read_text(encoding="utf-8"))["gate"]
    assert set(bounds["max_demographic_parity_difference"]) == {"site", "age_group"}


def test_wine_is_multiclass(wine: str, project: ProjectFiles) -> None:
    adopted = adopt(wine, project)
    contract = adopted.contract
    assert contract["task"] == "multiclass"
    assert list(contract["target"]["classes"]) == [0, 1, 2]
    assert "positive" not in contract["target"]
    assert adopted.class_rows == {0: 59, 1: 71, 2: 48}
    assert {c["dtype"] for c in contract["columns"].values()} == {"float"}
    holds_together(contract)


def test_diabetes_is_regression_with_sex_sliced_for_fairness(
    diabetes: str, project: ProjectFiles
) -> None:
    adopted = adopt(diabetes, project, sensitive=("sex",))
    contract = adopted.contract
    assert contract["task"] == "regression"
    assert "classes" not in contract["target"]
    assert contract["columns"]["sex"]["role"] == "sensitive"
    assert "sex" not in contract["example"]
    assert contract["fairness"] == ["sex_group"]
    edges = contract["slices"]["sex_group"]["edges"]
    groups = pd.cut(pd.read_csv(diabetes)["sex"], edges, right=False)
    assert groups.nunique() == 2  # one group per code
    assert groups.notna().all()  # every value in one
    gate = yaml.safe_load(project.params.read_text(encoding="utf-8"))["gate"]
    assert gate["max_demographic_parity_difference"] == {"sex_group": 0.2}
    holds_together(contract)


def frame_of(**columns: list[Any]) -> pd.DataFrame:
    return pd.DataFrame(columns)


TWENTY = [0, 1] * 10
FEATURE = [1, 2, 3, 4, 5] * 4  # a plain model input
REFUSALS = {
    "no such target": (
        frame_of(x=FEATURE, y=TWENTY),
        {"target": "label"},
        "no column 'label' to predict",
    ),
    "constant target": (frame_of(x=FEATURE, y=[1] * 20), {}, "'y' is constant"),
    "mixed types": (
        frame_of(x=["a", "b", 3, 4] * 5, y=TWENTY),
        {},
        "column 'x' has mixed types: 10 number(s) (e.g. '3') and 10 text",
    ),
    "too few rows per class": (
        frame_of(x=FEATURE[:19], y=[0] * 10 + [1] * 9),
        {},
        f"too few rows for a class (1: 9; at least {MIN_ROWS_PER_CLASS}",
    ),
    "binary not 0/1": (
        frame_of(x=FEATURE, y=["yes", "no"] * 10),
        {},
        "labelled 'no' and 'yes', not 0 and 1: say which class",
    ),
    "task does not fit": (
        frame_of(x=FEATURE + FEATURE[:10], y=[0, 1, 2] * 10),
        {"task": "binary"},
        "--task binary does not fit a int target with 3 distinct values",
    ),
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_refusals_name_the_problem_and_write_nothing(
    case: str, project: ProjectFiles, tmp_path: Path
) -> None:
    frame, given, message = REFUSALS[case]
    source = csv(frame, tmp_path / "data.csv")
    before = snapshot(project.root)
    with pytest.raises(AdoptError) as refused:
        adopt(source, project, **{"target": "y", **given})
    assert message in str(refused.value)
    assert "\n" not in str(refused.value)
    assert snapshot(project.root) == before


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such file"),
        (b"\x00\xff\xfe binary", "not a readable CSV file"),
        (b"", "not a readable CSV file"),
        (b"only_a_header\n", "not a readable CSV file"),
    ],
)
def test_an_unreadable_file_is_refused(
    content: bytes | None, message: str, project: ProjectFiles, tmp_path: Path
) -> None:
    source = tmp_path / "data.csv"
    if content is not None:
        source.write_bytes(content)
    before = snapshot(project.root)
    with pytest.raises(AdoptError, match=message):
        adopt(str(source), project, target="y")
    assert snapshot(project.root) == before


def test_adopting_twice_changes_nothing(breast_cancer: str, project: ProjectFiles) -> None:
    adopt(breast_cancer, project)
    after_first = snapshot(project.root)
    adopted = infer(breast_cancer, Options("target"))
    assert write(plan(adopted, project)) == []
    assert snapshot(project.root) == after_first


def _split_at_the_bounds(lines: list[str]) -> tuple[list[str], list[str]]:
    """params.yaml's lines without the gate's fairness bounds (a `{}` or a block), and
    those lines."""
    key = next(i for i, line in enumerate(lines) if "parity_difference:" in line)
    end = key + 1
    while lines[end].startswith("    "):
        end += 1
    return lines[:key] + lines[end:], lines[key:end]


def test_params_and_dvc_edits_keep_comments_and_layout(
    diabetes: str, project: ProjectFiles
) -> None:
    params_before = project.params.read_text(encoding="utf-8").splitlines()
    dvc_before = project.dvc.read_text(encoding="utf-8").splitlines()
    raw_path = next(line for line in params_before if "raw_path:" in line)
    # Named unlike the project's own data file, which may be diabetes.csv already.
    source = Path(diabetes).with_name(f"{Path(raw_path.split(': ')[1]).stem}_next.csv")
    shutil.copy(diabetes, source)
    adopted_path = f"data/raw/{source.name}"
    adopt(str(source), project, sensitive=("sex",))
    params = project.params.read_text(encoding="utf-8").splitlines()
    dvc = project.dvc.read_text(encoding="utf-8").splitlines()
    settings = yaml.safe_load("\n".join(params))
    assert settings["data"]["raw_path"] == adopted_path
    # Only the raw path and the gate's bounds changed; every comment is where it was.
    kept_before, _ = _split_at_the_bounds(params_before)
    kept, bounds = _split_at_the_bounds(params)
    assert [line for line in kept_before if line not in kept] == [raw_path]
    assert [line for line in kept if line not in kept_before] == [f"  raw_path: {adopted_path}"]
    assert bounds == ["  max_demographic_parity_difference:", "    sex_group: 0.2"]
    comments = [line for line in params_before if "#" in line]
    assert [line for line in params if "#" in line] == comments
    changed = [(old, new) for old, new in zip(dvc_before, dvc, strict=True) if old != new]
    assert changed == [(f"      - {raw_path.split(': ')[1]}", f"      - {adopted_path}")]
    ingest = yaml.safe_load("\n".join(dvc))["stages"]["ingest"]
    assert ingest["deps"][0] == adopted_path


def test_a_leaking_feature_is_warned_about(breast_cancer: str, tmp_path: Path) -> None:
    frame = pd.read_csv(breast_cancer)
    frame["diagnosis_code"] = frame["target"] * 3 + 1  # the label, restated
    adopted = infer(csv(frame, tmp_path / "leaky.csv"), Options("target"))
    (warning,) = adopted.warnings
    assert "column 'diagnosis_code' alone predicts 'target' (1.000): a leak?" in warning
    _, review = report(adopted)
    assert warning in review


def test_an_identifier_like_column_is_warned_about_and_no_input(
    breast_cancer: str, tmp_path: Path
) -> None:
    frame = pd.read_csv(breast_cancer)
    frame.insert(0, "patient", [f"p{i:04d}" for i in range(len(frame))])
    adopted = infer(csv(frame, tmp_path / "with_ids.csv"), Options("target"))
    assert adopted.contract["columns"]["patient"]["role"] == "identifier"
    assert "patient" not in adopted.contract["example"]
    assert adopted.warnings == [
        "column 'patient' is identifier-like (569 distinct values in 569 rows): made "
        "identifier, not a model input"
    ]


def test_a_binary_target_is_relabelled_0_1_with_positive(tmp_path: Path) -> None:
    frame = frame_of(x=[1, 2, 3, 4] * 5, y=["M", "B"] * 10)
    adopted = infer(csv(frame, tmp_path / "labels.csv"), Options("y", positive="M"))
    assert adopted.relabelled == {"B": 0, "M": 1}
    assert adopted.contract["target"]["classes"][1]["name"] == "M"
    written = pd.read_csv(io.BytesIO(adopted.data))
    assert written["y"].tolist() == [1, 0] * 10
    assert written["x"].tolist() == frame["x"].tolist()


@pytest.fixture
def served(tmp_path: Path, wine: str) -> Iterator[str]:
    """The wine file served over HTTP on localhost."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=tmp_path)
    with local_server(handler) as url:
        yield f"{url}/{Path(wine).name}"


def test_a_url_is_downloaded(served: str, wine: str, project: ProjectFiles) -> None:
    adopted = adopt(served, project)
    assert adopted.name == "wine.csv"
    assert (project.root / "data" / "raw" / "wine.csv").read_bytes() == Path(wine).read_bytes()
    with pytest.raises(AdoptError, match="cannot download it"):
        infer(served.replace("wine.csv", "missing.csv"), Options("target"))


def test_the_command_reports_its_decisions_then_changes_nothing(
    breast_cancer: str, project: ProjectFiles
) -> None:
    """The command as the user runs it, twice: what it decided and wrote, then that it
    left everything as it was; and a refusal in one line."""
    env = {
        **os.environ,
        f"{ENV_PREFIX}PARAMS": str(project.params),
        f"{ENV_PREFIX}CONTRACT": str(project.contract),
    }
    package = "{{ cookiecutter.project_slug }}"
    command = [sys.executable, "-m", package, "adopt", breast_cancer, "--target", "target"]

    def run(*arguments: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(  # noqa: S603 (the project's own CLI)
            [*command, *arguments],
            cwd=project.root,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )

    first = run()
    assert first.returncode == 0, first.stderr
    assert "task: binary (inferred from the target's values)" in first.stderr
    assert "feature (30): mean radius, mean texture" in first.stderr
    assert "no sensitive column" in first.stderr
    assert "wrote" in first.stderr.splitlines()[-1]
    second = run()
    assert second.returncode == 0, second.stderr
    assert "unchanged" in second.stderr.splitlines()[-1]
    refused = run("--sensitive", "ethnicity")
    assert refused.returncode == 1
    assert refused.stderr.strip().splitlines() == [
        f"error: {breast_cancer}: no column 'ethnicity' (besides the target) to declare"
    ]
