"""Signed model provenance, with OpenSSF model signing (the `model-signing` package).

Every exported model is signed: the model file, and beside it an in-toto statement that
links its SHA-256 to its lineage (the data's hash, the commit, the tracker's run) and to the
decision that exported it. Training signs its candidate as `candidate`, which the promotion
gate verifies before judging it; the gate signs what it promotes as `champion` or
`challenger`. The registry keeps that signed export with the version
(`Tracker.attach_signed`); every later export of the version (CD's, a rollback's) is a copy
of it, byte for byte (two loads of one model can pickle differently), and whatever unpickles
a served model verifies it first (`model_store.load` with signers): the API, batch scoring,
CD's `ship-champion` and monitoring, which refuse a candidate however well signed. A model
that fails is refused with one line naming the file and the signers expected.

A signed model directory holds model.joblib, provenance.json (the statement), model.sig
(model-signing's Sigstore bundle over those two) and metadata.json, which is descriptive and
not signed, but whose version and data hash must be the statement's.

Offline, the project's key pair signs (params.yaml `sign.private_key`, git-ignored; `make
setup` makes it, and so does the first signing without one). In CI, `sign.method: sigstore`
signs keyless with the runner's OIDC identity. `serve.trusted_signers` says who may sign.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from ..security import SignSettings, TrustedSigner

STATEMENT_FILE = "provenance.json"
SIGNATURE_FILE = "model.sig"
MODEL_FILE = "model.joblib"
UNSIGNED_FILES = ["metadata.json", SIGNATURE_FILE]  # all else in the directory is signed
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = f"urn:{__name__.partition('.')[0]}:model-provenance:v1"
CANDIDATE = "candidate"  # the decision training attests; the gate's are the tracker's aliases

logger = logging.getLogger(__name__)


class UntrustedModelError(ValueError):
    """A model directory whose signature or attestation does not hold."""


def sha256_of(path: Path) -> str:
    """The file's SHA-256 (hex)."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def ensure_key_pair(private_key: Path) -> Path:
    """The project's signing key pair (ECDSA P-256, as model-signing signs with), made when
    missing: `private_key` (owner-only) and its public half beside it (.pub), returned.
    Safe when several processes start at once (test workers, orchestrator tasks): the
    first key in place wins, and the public half is always derived from it."""
    public_key = private_key.with_suffix(".pub")
    if not private_key.is_file():
        private_key.parent.mkdir(parents=True, exist_ok=True)
        pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        with tempfile.NamedTemporaryFile(dir=private_key.parent, delete=False) as made:
            made.write(pem)  # created owner-only
        try:
            os.link(made.name, private_key)  # complete or absent, and never replacing a key
            logger.debug("made the model signing key pair %s", private_key)
        except FileExistsError:
            pass
        finally:
            os.unlink(made.name)
    if not public_key.is_file():
        key = serialization.load_pem_private_key(private_key.read_bytes(), password=None)
        spki = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        with tempfile.NamedTemporaryFile(dir=public_key.parent, delete=False) as made:
            made.write(spki)
        os.chmod(made.name, 0o644)  # the public half is for anyone
        os.replace(made.name, public_key)
    return public_key


def statement(
    directory: Path,
    version: str,
    run_id: str,
    lineage: Mapping[str, str],
    decision: str,
    decided_at: datetime,
) -> dict[str, Any]:
    """The in-toto statement of the model in `directory`: its digest, where it came from
    (the tracker's run, the data and the code: registry/lineage.py) and why it is served."""
    digest = {"sha256": sha256_of(directory / MODEL_FILE)}
    return {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": MODEL_FILE, "digest": digest}],
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "version": version,
            "run_id": run_id,
            "lineage": dict(lineage),
            "decision": {"alias": decision, "decided_at": decided_at.isoformat()},
        },
    }


def sign(
    directory: Path,
    *,
    version: str,
    run_id: str,
    lineage: Mapping[str, str],
    decision: str,
    decided_at: datetime,
    settings: SignSettings,
) -> None:
    """Attest the model in `directory` (`statement`) and sign it (`seal`)."""
    attested = statement(directory, version, run_id, lineage, decision, decided_at)
    seal(directory, attested, settings)


def _hashing() -> Any:
    from model_signing import hashing  # sigstore takes a second to import

    config = hashing.Config()  # type: ignore[no-untyped-call]  # its __init__ is unannotated
    return config.set_ignored_paths(paths=UNSIGNED_FILES, ignore_git_paths=False)


def seal(directory: Path, attested: Mapping[str, Any], settings: SignSettings) -> None:
    """Write `attested` (a `statement`) to `directory` and sign it with the model file there
    (model.sig): the signed export the registry keeps with the version."""
    from model_signing import signing

    (directory / STATEMENT_FILE).write_text(json.dumps(attested, indent=2), encoding="utf-8")
    config = signing.Config().set_hashing_config(_hashing())  # type: ignore[no-untyped-call]
    if settings.method == "sigstore":  # the CI runner's OIDC token (GitHub, GitLab, ...)
        config.use_sigstore_signer(use_ambient_credentials=True)
    else:
        ensure_key_pair(settings.private_key)
        config.use_elliptic_key_signer(private_key=settings.private_key)
    config.sign(directory, directory / SIGNATURE_FILE)


def _verifier(signer: TrustedSigner) -> Any:
    from model_signing import verifying

    config = verifying.Config().set_hashing_config(_hashing())  # type: ignore[no-untyped-call]
    if signer.public_key is not None:
        return config.use_elliptic_key_verifier(public_key=signer.public_key)
    return config.use_sigstore_verifier(
        identity=str(signer.identity), oidc_issuer=str(signer.issuer)
    )


def refusal_reason(directory: Path, error: Exception) -> str:
    """What went wrong, in a line: model-signing's messages list every digest it compared,
    as the repr of a list of strings (whose quotes are escaped when a digest's bytes show a
    double quote)."""
    if isinstance(error, FileNotFoundError):  # e.g. a container without the public key
        return f"the trusted public key {error.filename} does not exist"
    text = str(error)
    changed = re.search(r"Hash mismatch for \\?'(.+?)\\?':", text)
    if changed:
        return f"{directory / changed[1]} was changed after it was signed"
    listed = re.search(
        r"(Missing|Extra) files (?:found )?in model \\?'.*?\\?': ([^\]\"'\\]+)", text
    )
    if listed:
        what = "lacks signed" if listed[1] == "Missing" else "holds unsigned"
        return f"{directory} {what} files: {listed[2]}"
    return f"{directory / SIGNATURE_FILE} is not a signature by a trusted signer"


def verify(
    directory: Path,
    signers: Sequence[TrustedSigner],
    version: str,
    data_md5: str | None,
    *,
    candidate: bool = False,
) -> None:
    """Check that the model in `directory` was signed by one of `signers` as it is, with a
    statement of `version` trained on data `data_md5` (metadata.json's) and of a promotion
    (or, `candidate`, of training's candidate); raise UntrustedModelError with the reason
    otherwise."""
    expected = " or ".join(str(signer) for signer in signers)
    for name, missing in ((SIGNATURE_FILE, "is unsigned"), (STATEMENT_FILE, "has no attestation")):
        if not (directory / name).is_file():
            raise UntrustedModelError(
                f"{directory / MODEL_FILE} {missing} (no {name}); expected a signer: {expected}"
            )
    errors: list[Exception] = []
    for signer in signers:
        try:
            _verifier(signer).verify(directory, directory / SIGNATURE_FILE)
            break
        except Exception as error:  # model-signing raises ValueError, JSON and TLS errors
            errors.append(error)
    else:
        reason = refusal_reason(directory, errors[-1])
        raise UntrustedModelError(f"{reason}; expected {expected}")
    attested = json.loads((directory / STATEMENT_FILE).read_text(encoding="utf-8"))
    predicate = attested.get("predicate", {})
    claims = {
        "model digest": (
            attested["subject"][0]["digest"]["sha256"],
            sha256_of(directory / MODEL_FILE),
        ),
        "version": (predicate.get("version"), version),
        "data hash": (predicate.get("lineage", {}).get("data_md5"), data_md5),
    }
    for claim, (stated, actual) in claims.items():
        if stated != actual:
            raise UntrustedModelError(
                f"{directory / STATEMENT_FILE} attests {claim} {stated}, the model has {actual}"
            )
    decided = predicate.get("decision", {}).get("alias")
    if (decided == CANDIDATE) != candidate:
        wanted = "training's candidate" if candidate else "a model the promotion gate promoted"
        raise UntrustedModelError(
            f"{directory / STATEMENT_FILE} attests decision {decided}; expected {wanted}"
        )
