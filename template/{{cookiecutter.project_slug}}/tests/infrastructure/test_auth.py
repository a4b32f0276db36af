"""Who may call the API (serving/auth.py): with `serve.auth` on, a token from the configured
issuer, for this API, unexpired and signed by a published key gets a prediction; every
other request but the probes gets 401 and one line saying why. The issuer is local: an RSA
key made here, its JWKS served on 127.0.0.1."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient

from {{ cookiecutter.project_slug }}.config import ConfigurationError, Settings, get_settings
from {{ cookiecutter.project_slug }}.data.contract import EXAMPLE
from {{ cookiecutter.project_slug }}.security import AuthSettings
from {{ cookiecutter.project_slug }}.serving.app import create_app
from {{ cookiecutter.project_slug }}.serving.server import app_for

from ..conftest import local_server

pytestmark = pytest.mark.infrastructure

ISSUER = "https://issuer.test/tenant"
AUDIENCE = "api://model-serving"
KID = "signing-key-1"


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@dataclass(frozen=True)
class Issuer:
    key: rsa.RSAPrivateKey
    jwks_url: str

    def token(self, key: rsa.RSAPrivateKey | None = None, kid: str = KID, **claims: Any) -> str:
        """A token signed with the issuer's key (or `key`); `claims` override the defaults."""
        now = int(time.time())
        body = {"iss": ISSUER, "aud": AUDIENCE, "sub": "scorer", "iat": now, "exp": now + 300}
        body = {k: v for k, v in {**body, **claims}.items() if v is not None}
        return jwt.encode(body, key or self.key, algorithm="RS256", headers={"kid": kid})


@pytest.fixture(scope="module")
def issuer() -> Iterator[Issuer]:
    """A local issuer: its JWKS (one RSA public key) served over HTTP on 127.0.0.1."""
    key = new_key()
    public = jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
    document = json.dumps({"keys": [{**public, "kid": KID, "use": "sig", "alg": "RS256"}]})

    class JWKS(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(document.encode())

        def log_message(self, *_: Any) -> None:  # no access log in the test output
            pass

    with local_server(JWKS) as url:
        yield Issuer(key, f"{url}/.well-known/jwks.json")


def auth_settings(jwks_url: str) -> AuthSettings:
    return AuthSettings(enabled=True, issuer=ISSUER, audience=AUDIENCE, jwks_url=jwks_url)


@pytest.fixture
def client(champion_dir: Path, issuer: Issuer) -> Iterator[TestClient]:
    with TestClient(create_app(champion_dir, auth=auth_settings(issuer.jwks_url))) as test_client:
        yield test_client


def predict(client: TestClient, authorization: str | None) -> Any:
    headers = {"Authorization": authorization} if authorization is not None else {}
    return client.post("/predict", json=EXAMPLE, headers=headers)


def test_a_valid_token_gets_a_prediction(client: TestClient, issuer: Issuer) -> None:
    response = predict(client, f"Bearer {issuer.token()}")
    assert response.status_code == 200, response.text
    # Scored, not only let in: the task's output field (binary, multiclass, regression).
    assert {"probability", "probabilities", "prediction"} & set(response.json())


def test_the_probes_need_no_token(client: TestClient) -> None:
    """Orchestrators probe without credentials: /health and /ready stay open."""
    assert client.get("/health").status_code == 200
    assert client.get("/ready").status_code == 200


def other_key_same_kid(issuer: Issuer) -> str:
    return issuer.token(key=new_key())


# case -> (the Authorization header it sends, what its refusal says)
REFUSALS: dict[str, tuple[Callable[[Issuer], str | None], str]] = {
    "missing": (lambda issuer: None, "missing bearer token"),
    "not bearer": (lambda issuer: f"Basic {issuer.token()}", "missing bearer token"),
    "expired": (lambda issuer: f"Bearer {issuer.token(exp=int(time.time()) - 60)}", "expired"),
    "wrong audience": (
        lambda issuer: f"Bearer {issuer.token(aud='api://another-api')}",
        f"audience {AUDIENCE}",
    ),
    "wrong issuer": (
        lambda issuer: f"Bearer {issuer.token(iss='https://evil.test')}",
        f"trusted issuer {ISSUER}",
    ),
    "no expiry": (lambda issuer: f"Bearer {issuer.token(exp=None)}", "lacks the exp claim"),
    "wrongly signed": (
        lambda issuer: f"Bearer {other_key_same_kid(issuer)}",
        "signature does not verify",
    ),
    "unknown key": (
        lambda issuer: f"Bearer {issuer.token(key=new_key(), kid='not-published')}",
        "a key the issuer does not publish",
    ),
    "not a JWT": (lambda issuer: "Bearer not-a-token", "invalid token"),
}


@pytest.mark.parametrize("case", REFUSALS)
def test_refused_with_401_and_one_line_reason(
    client: TestClient, issuer: Issuer, case: str
) -> None:
    make_header, reason = REFUSALS[case]
    response = predict(client, make_header(issuer))
    assert response.status_code == 401, response.text
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    detail = response.json()["detail"]
    assert reason in detail
    assert "\n" not in detail
    assert response.headers["X-Request-ID"]  # refusals are observed like any request


def test_unreachable_keys_are_a_503_not_a_pass(champion_dir: Path, issuer: Issuer) -> None:
    """When the issuer's keys cannot be read the API cannot tell: it does not answer."""
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}/jwks.json"
    with TestClient(create_app(champion_dir, auth=auth_settings(closed))) as client:
        response = predict(client, f"Bearer {issuer.token()}")
    assert response.status_code == 503
    assert closed in response.json()["detail"]


def test_the_server_builds_the_app_with_the_configured_check(
    settings: Settings, champion_dir: Path, issuer: Issuer
) -> None:
    """`serve` (one worker or several) applies params.yaml's serve.auth."""
    serve = settings.serve.model_copy(
        update={"model_dir": champion_dir, "auth": auth_settings(issuer.jwks_url)}
    )
    configured = settings.model_copy(
        update={
            "serve": serve,
            "inference_log": settings.inference_log.model_copy(update={"enabled": False}),
        }
    )
    with TestClient(app_for(configured)) as client:
        assert predict(client, None).status_code == 401
        assert predict(client, f"Bearer {issuer.token()}").status_code == 200


def test_off_by_default_locally(champion_dir: Path) -> None:
    """Locally nothing changes: params.yaml leaves the check off, so no token is needed."""
    assert get_settings().serve.auth.enabled is False
    with TestClient(create_app(champion_dir, auth=get_settings().serve.auth)) as client:
        assert predict(client, None).status_code == 200


def test_enabled_without_an_issuer_is_one_line_naming_the_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("{{ cookiecutter.project_slug | upper }}_SERVE__AUTH__ENABLED", "true")
    get_settings.cache_clear()
    try:
        with pytest.raises(ConfigurationError, match=r"serve\.auth: issuer, audience, jwks_url"):
            get_settings()
    finally:
        get_settings.cache_clear()
