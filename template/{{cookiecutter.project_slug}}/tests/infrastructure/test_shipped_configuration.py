"""ML Test Score, infrastructure: the configuration the project ships trains on its data and
serves what the gate vetted. Every other test points the settings at a workspace of its own,
so none of them would notice a shipped params.yaml whose API serves the unvetted candidate:
these read params.yaml, dvc.yaml and the Dockerfile as a fresh clone and the image do, with
no workspace and no variable of ours."""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path

import pytest
import yaml

from {{ cookiecutter.project_slug }}.config import ENV_PREFIX, Settings
from {{ cookiecutter.project_slug }}.registry.champion import candidate_dir

from ..conftest import PROJECT_ROOT, run_make

pytestmark = pytest.mark.infrastructure


@pytest.fixture
def shipped(monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The settings the CLI reads from the project's root with nothing overridden."""
    for name in [name for name in os.environ if name.startswith(ENV_PREFIX)]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(PROJECT_ROOT)
    return Settings()


def stage_paths(stage: str, kind: str) -> set[Path]:
    """The paths a stage of the shipped dvc.yaml declares (`deps` it reads, `outs` it writes)."""
    pipeline = yaml.safe_load((PROJECT_ROOT / "dvc.yaml").read_text(encoding="utf-8"))
    paths = pipeline["stages"][stage][kind]
    return {Path(next(iter(path)) if isinstance(path, dict) else path) for path in paths}


def stage_outputs(stage: str) -> set[Path]:
    return stage_paths(stage, "outs")


def serving_image() -> tuple[dict[str, str], dict[str, str]]:
    """The Dockerfile's last stage, the serving image: what it copies from the build context
    (destination -> source, relative to its WORKDIR) and the variables it sets (a build
    argument's `${NAME}` at its default, as `docker build` without --build-arg sets it)."""
    text = (PROJECT_ROOT / "Dockerfile").read_text(encoding="utf-8").replace("\\\n", " ")
    stage = re.split(r"^FROM .*$", text, flags=re.MULTILINE)[-1]
    copies: dict[str, str] = {}
    variables: dict[str, str] = {}
    arguments: dict[str, str] = {}
    for line in stage.splitlines():
        instruction, _, rest = line.strip().partition(" ")
        if instruction == "COPY" and not rest.startswith("--"):
            *sources, destination = shlex.split(rest)
            for source in sources:
                target = Path(destination) / Path(source).name if len(sources) > 1 else destination
                copies[str(Path(target))] = source
        elif instruction == "ARG":
            name, _, value = shlex.split(rest)[0].partition("=")
            arguments[name] = value
        elif instruction == "ENV":
            for word in shlex.split(rest):
                name, _, value = word.partition("=")
                for argument, default in arguments.items():
                    value = value.replace("${" + argument + "}", default)
                variables[name] = value
    return copies, variables


def filled_from(copies: dict[str, str], path: Path) -> Path | None:
    """The build context's path the image fills `path` from: its own COPY's source, or the
    source of the directory COPY it lies under."""
    for destination, source in copies.items():
        if path == Path(destination) or Path(destination) in path.parents:
            return Path(source) / path.relative_to(destination)
    return None


def admitted_by_dockerignore(path: Path) -> bool:
    """The build context keeps `path` (.dockerignore excludes everything, then lets back in
    what the images need)."""
    lines = (PROJECT_ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    return f"!{path}/" in lines or f"!{path}" in lines


def test_the_api_serves_what_promote_exports_never_the_candidate(shipped: Settings) -> None:
    """Infrastructure 4: only a model the gate validated is served. As shipped, the API
    serves the directory `promote` writes (dvc.yaml), never the `train` stage's candidate."""
    served, candidate = shipped.serve.model_dir, candidate_dir(shipped)
    assert served != candidate, f"params.yaml serves {served}, the gate's unvetted candidate"
    assert served in stage_outputs("promote"), f"promote (dvc.yaml) does not write {served}"
    assert candidate in stage_outputs("train"), f"train (dvc.yaml) does not write {candidate}"
    assert candidate not in stage_outputs("promote"), "promote (dvc.yaml) writes the candidate"


def test_training_reads_the_data_params_yaml_names(shipped: Settings) -> None:
    """Infrastructure 1: a commit names the data its model was trained on. The raw file
    params.yaml points ingest at exists and is a dependency of dvc.yaml's ingest stage, with
    the contract that validates it, so `make repro` retrains when either changes."""
    raw = shipped.data.raw_path
    assert (PROJECT_ROOT / raw).is_file(), f"params.yaml's data.raw_path {raw} does not exist"
    reads = stage_paths("ingest", "deps")
    assert raw in reads, f"dvc.yaml's ingest stage does not depend on {raw}: {sorted(reads)}"
    assert Path("contract.yaml") in reads


def test_the_serving_image_ships_and_serves_the_champion(
    shipped: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Infrastructure 4: the image CD builds serves the champion `promote` exports: its
    serving stage copies that directory to where the API, under the image's own variables,
    looks for its model."""
    copies, variables = serving_image()
    for name, value in variables.items():
        if name.startswith(ENV_PREFIX):
            monkeypatch.setenv(name, value)
    served = Settings().serve.model_dir
    assert served == shipped.serve.model_dir, f"the image's variables serve {served}"
    source = filled_from(copies, served)
    assert source is not None, f"the serving image does not copy {served}: {copies}"
    assert source == shipped.serve.model_dir, (
        f"the serving image fills {served} with {source}, not the champion"
    )
    assert admitted_by_dockerignore(source), f".dockerignore keeps {source} out of the image"


def test_the_serving_image_trusts_a_signer_it_carries(
    shipped: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Infrastructure 4: under the image's own variables (no deployment's override), the API
    trusts public keys the image holds, or it would refuse every model: `make docker-build`
    installs the project's own where the image copies them from, and .dockerignore lets
    them in."""
    copies, variables = serving_image()
    for name, value in variables.items():
        if name.startswith(ENV_PREFIX):
            monkeypatch.setenv(name, value)
    keys = [signer.public_key for signer in Settings().serve.trusted_signers if signer.public_key]
    assert keys, "the image trusts no public key of its own"
    # What make would run to build the image, without running any of it.
    planned = run_make("--dry-run", "--always-make", "docker-build").stdout.splitlines()
    project_key = shipped.sign.private_key.with_suffix(".pub")
    for key in keys:
        source = filled_from(copies, key)
        assert source is not None, f"the serving image does not copy {key}: {copies}"
        assert admitted_by_dockerignore(source), f".dockerignore keeps {source} out of the image"
        installs = [line for line in planned if line.startswith("install ")]
        assert any(line.split()[-2:] == [str(project_key), str(source)] for line in installs), (
            f"make docker-build does not put {project_key} at {source}: {planned}"
        )
