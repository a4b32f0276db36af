"""Signed model provenance (registry/provenance.py): nothing unpickles a served model that
a trusted signer did not sign as it is, with an attestation of its lineage; each refusal is
one line naming the file and the signers expected, and a refused export replaces nothing."""

from __future__ import annotations

import json
import stat
import time
from pathlib import Path

import joblib
import pytest
from fastapi.testclient import TestClient

from {{ cookiecutter.project_slug }} import pipeline
from {{ cookiecutter.project_slug }}.config import ENV_PREFIX, get_settings
from {{ cookiecutter.project_slug }}.data import ingest
from {{ cookiecutter.project_slug }}.data.contract import EXAMPLE
from {{ cookiecutter.project_slug }}.registry import model_store, provenance
from {{ cookiecutter.project_slug }}.registry.champion import candidate_dir, ship_champion
from {{ cookiecutter.project_slug }}.security import SignSettings, TrustedSigner
from {{ cookiecutter.project_slug }}.serving.app import create_app
from {{ cookiecutter.project_slug }}.tracking import get_tracker
from {{ cookiecutter.project_slug }}.training.candidate import train_candidate
from {{ cookiecutter.project_slug }}.training.train import (
    TrainedModel,
    build_baseline,
    features_and_target,
)

from ..conftest import (
    export_signed,
    without_search,
    workspace_environment,
    workspace_settings,
)
from .test_cli import run_cli
from .test_model_swap import SWAP_DEADLINE_SECONDS

pytestmark = pytest.mark.infrastructure

SIGNERS = get_settings().serve.trusted_signers  # the project's own public key
DATA_MD5 = "0" * 32


def exported(directory: Path, trained: TrainedModel, version: str = "1") -> Path:
    """A model exported and signed as a promotion signs it, trained on data DATA_MD5."""
    metadata = model_store.ModelMetadata(
        name="m",
        version=version,
        run_id="r",
        model_type=trained.model_name,
        lineage={"data_md5": DATA_MD5},
    )
    return export_signed(directory, trained.pipeline, metadata)


def resign(directory: Path, sign: SignSettings, **predicate: object) -> None:
    """Sign `directory` again with `sign`'s key, its statement's predicate changed."""
    attested = json.loads((directory / provenance.STATEMENT_FILE).read_text(encoding="utf-8"))
    attested["predicate"].update(predicate)
    provenance.seal(directory, attested, sign)


def refusal(directory: Path) -> str:
    """Why `model_store.load` refuses the directory, as the API and the CLI say it."""
    with pytest.raises(model_store.CorruptModelError) as refused:
        model_store.load(directory, SIGNERS)
    said = str(refused.value)
    assert "\n" not in said, said
    return said


def test_a_signed_model_loads(trained: TrainedModel, tmp_path: Path) -> None:
    """The control of the refusals below: the same export, untouched, loads."""
    _, metadata = model_store.load(exported(tmp_path / "champion", trained), SIGNERS)
    assert metadata.version == "1"


def test_a_byte_flipped_in_the_model_is_refused_even_with_its_checksum_updated(
    trained: TrainedModel, tmp_path: Path
) -> None:
    """Infrastructure 4: only the model the gate validated and signed is served.
    metadata.json's checksum catches damage, not an attacker, who rewrites it too: the
    signature names the changed file."""
    directory = exported(tmp_path / "champion", trained)
    model = directory / model_store.MODEL_FILE
    data = bytearray(model.read_bytes())
    data[len(data) // 2] ^= 0xFF
    model.write_bytes(bytes(data))
    metadata = json.loads((directory / model_store.METADATA_FILE).read_text(encoding="utf-8"))
    metadata["model_sha256"] = provenance.sha256_of(model)
    (directory / model_store.METADATA_FILE).write_text(json.dumps(metadata), encoding="utf-8")
    said = refusal(directory)
    assert f"{model} was changed after it was signed" in said, said
    assert "expected keys/model-signing.pub" in said, said


def test_a_signature_by_another_key_is_refused(trained: TrainedModel, tmp_path: Path) -> None:
    directory = exported(tmp_path / "champion", trained)
    resign(directory, SignSettings(private_key=tmp_path / "keys" / "other.key"))
    said = refusal(directory)
    assert f"{directory / provenance.SIGNATURE_FILE} is not a signature by a trusted signer" in said
    assert "expected keys/model-signing.pub" in said, said


@pytest.mark.parametrize(
    ("removed", "reason"),
    [(provenance.STATEMENT_FILE, "has no attestation"), (provenance.SIGNATURE_FILE, "is unsigned")],
)
def test_a_model_without_its_attestation_or_signature_is_refused(
    removed: str, reason: str, trained: TrainedModel, tmp_path: Path
) -> None:
    directory = exported(tmp_path / "champion", trained)
    (directory / removed).unlink()
    said = refusal(directory)
    assert f"{directory / model_store.MODEL_FILE} {reason} (no {removed})" in said, said
    assert "keys/model-signing.pub" in said, said


@pytest.mark.parametrize("digest", [b"\x15+1&", b'|"\x8e'], ids=["plain", "with a quote"])
def test_a_changed_file_is_named_whatever_its_digest_holds(digest: bytes) -> None:
    """model-signing lists what it found as the repr of a list of strings, whose quotes are
    escaped when a digest's bytes show a double quote: the reason is the same either way."""
    directory = Path("models/champion")
    sha256 = f"Digest(algorithm='sha256', digest_value={digest!r})"
    found = [f"Hash mismatch for 'model.joblib': Expected '{sha256}', Actual '{sha256}'"]
    error = ValueError(f"Signature mismatch: {found}")
    reason = provenance.refusal_reason(directory, error)
    assert reason == f"{directory / 'model.joblib'} was changed after it was signed", error


def test_a_trusted_key_that_is_not_there_is_named(trained: TrainedModel, tmp_path: Path) -> None:
    """e.g. a container that does not mount the public key params.yaml names."""
    directory = exported(tmp_path / "champion", trained)
    absent = tmp_path / "keys" / "absent.pub"
    with pytest.raises(model_store.CorruptModelError) as refused:
        model_store.load(directory, [TrustedSigner(public_key=absent)])
    assert f"the trusted public key {absent} does not exist" in str(refused.value)


def test_an_attestation_of_other_data_is_refused(trained: TrainedModel, tmp_path: Path) -> None:
    """A trusted signature over a statement of another training set (e.g. the attestation
    of another version put beside this model) does not vouch for this one."""
    directory = exported(tmp_path / "champion", trained)
    resign(directory, get_settings().sign, lineage={"data_md5": "f" * 32})
    said = refusal(directory)
    assert f"attests data hash {'f' * 32}, the model has {DATA_MD5}" in said, said


def test_a_candidate_is_not_served_however_well_signed(
    trained: TrainedModel, tmp_path: Path
) -> None:
    """Infrastructure 4: training signs its candidate too, with a trusted key, but as a
    candidate; put where a served model goes, it is refused until the gate promotes it."""
    directory = exported(tmp_path / "champion", trained)
    resign(directory, get_settings().sign, decision={"alias": provenance.CANDIDATE})
    said = refusal(directory)
    assert "attests decision candidate; expected a model the promotion gate promoted" in said


def test_promote_judges_only_the_candidate_training_signed(
    tmp_path: Path, trained: TrainedModel
) -> None:
    """What the gate judges is what training produced: a model put in the candidate's place
    between the two steps (its checksum rewritten) is refused in one line, and nothing is
    promoted or served."""
    settings = without_search(workspace_settings(tmp_path), trained)
    tracker = get_tracker(settings.tracking)
    paths = pipeline.ingest(settings)
    train_candidate(settings, tracker)
    candidate = candidate_dir(settings)
    _, metadata = model_store.load(candidate, SIGNERS, candidate=True)  # signed by training
    other = build_baseline().fit(*features_and_target(ingest.read_processed(paths.train)))
    joblib.dump(other, candidate / model_store.MODEL_FILE)
    checksum = provenance.sha256_of(candidate / model_store.MODEL_FILE)
    rewritten = metadata.model_copy(update={"model_sha256": checksum}).model_dump_json()
    (candidate / model_store.METADATA_FILE).write_text(rewritten, encoding="utf-8")

    code, output = run_cli("promote", env=workspace_environment(tmp_path))
    assert code == 1, output
    assert output.strip() == (
        f"error: {candidate / model_store.MODEL_FILE} was changed after it was signed; "
        "expected keys/model-signing.pub"
    ), output
    assert not settings.serve.model_dir.exists()
    assert tracker.get_champion() is None


def test_the_api_keeps_serving_the_previous_model_and_says_why(
    trained: TrainedModel, tmp_path: Path
) -> None:
    """A tampered export swapped in is never loaded: predictions stay the previous
    model's, and /ready names the refused file (with no model yet, it answers 503 so)."""
    directory = exported(tmp_path / "champion", trained)
    app = create_app(directory, reload_seconds=0.05, signers=SIGNERS)
    with TestClient(app) as client:
        assert client.get("/ready").json()["refused"] is None
        tampered = exported(tmp_path / "next", trained, version="2")
        resign(tampered, SignSettings(private_key=tmp_path / "keys" / "other.key"))
        model_store.copy(tampered, directory)  # swapped in whole, as an export is
        deadline = time.monotonic() + SWAP_DEADLINE_SECONDS
        while (ready := client.get("/ready")).json()["refused"] is None:
            assert time.monotonic() < deadline, "the new export was never looked at"
            time.sleep(0.05)
        assert ready.status_code == 200
        assert ready.json()["model_version"] == "1"
        assert "is not a signature by a trusted signer" in ready.json()["refused"]
        assert client.post("/predict", json=EXAMPLE).json()["model_version"] == "1"
    with TestClient(create_app(directory, signers=SIGNERS)) as client:  # a new replica
        ready = client.get("/ready")
        assert ready.status_code == 503
        assert "is not a signature by a trusted signer" in ready.json()["detail"]


def test_cd_ships_only_a_signed_champion_and_refuses_in_one_line(
    tmp_path: Path, trained: TrainedModel
) -> None:
    """Infrastructure 4: CD (`ship-champion`) exports what the promotion signed; a champion
    nobody signed (e.g. set by hand) is refused, and nothing is written, until `rollback
    <version> --sign` signs it as a promotion does."""
    ct = without_search(workspace_settings(tmp_path), trained)
    tracker = get_tracker(ct.tracking)
    pipeline.ingest(ct)
    train_candidate(ct, tracker)
    assert pipeline.promote(ct, tracker).promote
    shipped = tmp_path / "cd" / "champion"
    cd = ct.model_copy(update={"serve": ct.serve.model_copy(update={"model_dir": shipped})})
    champion, _ = ship_champion(cd, tracker)
    _, served = model_store.load(shipped, SIGNERS)
    assert served.version == champion.version
    attested = json.loads((shipped / provenance.STATEMENT_FILE).read_text(encoding="utf-8"))
    assert attested["subject"][0]["digest"]["sha256"] == served.model_sha256
    assert attested["predicate"]["lineage"] == dict(champion.lineage)
    assert attested["predicate"]["run_id"] == champion.run_id
    assert attested["predicate"]["decision"]["alias"] == "champion"

    unsigned = train_candidate(ct, tracker)
    tracker.set_champion(tracker.get_version(unsigned.version))  # by hand: no signature
    elsewhere = tmp_path / "cd2" / "champion"
    env = {**workspace_environment(tmp_path), f"{ENV_PREFIX}SERVE__MODEL_DIR": str(elsewhere)}
    code, output = run_cli("ship-champion", env=env)
    assert code == 1, output
    assert output.strip() == (
        f"error: v{unsigned.version} is unsigned: the registry keeps no signed export of it "
        "(the promotion gate signs what it promotes)"
    ), output
    assert not elsewhere.exists()

    # Signed as it is (e.g. a champion promoted before this release), it ships.
    code, output = run_cli(
        "rollback", unsigned.version, "--sign", env=workspace_environment(tmp_path)
    )
    assert code == 0, output
    assert run_cli("ship-champion", env=env)[0] == 0
    assert model_store.load(elsewhere, SIGNERS)[1].version == unsigned.version


def test_setup_makes_an_owner_only_key_pair_once(tmp_path: Path) -> None:
    """`make setup` runs `signing-key`: a key pair whose private half only its owner
    reads; run again, it keeps the pair (models it signed stay verifiable)."""
    private_key = tmp_path / "keys" / "model-signing.key"
    env = {f"{ENV_PREFIX}SIGN__PRIVATE_KEY": str(private_key)}
    code, output = run_cli("signing-key", env=env)
    assert code == 0, output
    public_key = private_key.with_suffix(".pub")
    assert stat.S_IMODE(private_key.stat().st_mode) == 0o600
    assert public_key.read_text(encoding="utf-8").startswith("-----BEGIN PUBLIC KEY-----")
    before = private_key.read_bytes()
    assert run_cli("signing-key", env=env)[0] == 0
    assert private_key.read_bytes() == before
