"""Azure Blob Storage on this machine, for a rendered project's Azure clients where no Azure
account is at hand: Azurite (npm's `azurite`, which .ci/run installs) over HTTPS with
Microsoft Entra sign-in, and a managed identity endpoint that hands azure-identity's
DefaultAzureCredential a token Azurite accepts (it checks the claims, not the signature),
as on Azure where the clients sign in with a token, not a key. Point a process at them
with `azure_env`."""

from __future__ import annotations

import base64
import json
import shutil
import ssl
import subprocess
import time
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import NamedTuple

import pytest

from support.deep import free_port, local_http_server, served

AZURITE = "3.37.0"  # .ci/run installs it with npm
ACCOUNT = "devstoreaccount1"  # Azurite's account
TENANT = "00000000-0000-0000-0000-000000000001"
API_VERSION = "2025-01-05"


def _segment(claims: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()


def storage_token() -> str:
    """A token for Azure Storage with the claims Azurite checks, valid for an hour."""
    now = int(time.time())
    claims = {
        "aud": "https://storage.azure.com",
        "iss": f"https://sts.windows.net/{TENANT}/",
        "tid": TENANT,
        "oid": "00000000-0000-0000-0000-000000000002",
        "iat": now - 60,
        "nbf": now - 60,
        "exp": now + 3600,
    }
    return f"{_segment({'alg': 'none', 'typ': 'JWT'})}.{_segment(claims)}.c3RhbmQtaW4"


class IdentityHandler(BaseHTTPRequestHandler):
    """A managed identity endpoint (App Service's protocol: IDENTITY_ENDPOINT)."""

    def do_GET(self) -> None:
        body = json.dumps(
            {
                "access_token": storage_token(),
                "expires_on": str(int(time.time()) + 3600),
                "resource": "https://storage.azure.com",
                "token_type": "Bearer",
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:  # quiet: the test shows what failed
        pass


@contextmanager
def identity_endpoint() -> Iterator[str]:
    with local_http_server(IdentityHandler) as address:
        yield f"http://{address}/msi/token"


class BlobStandIn(NamedTuple):
    endpoint: str  # the account's blob endpoint
    certificate: Path  # what the clients trust for it
    context: ssl.SSLContext  # the same trust, for this process's requests
    identity: str  # the managed identity endpoint


def blob_request(stand_in: BlobStandIn, path: str, method: str = "GET") -> urllib.request.Request:
    """A signed-in request to the account's REST API."""
    headers = {"Authorization": f"Bearer {storage_token()}", "x-ms-version": API_VERSION}
    return urllib.request.Request(f"{stand_in.endpoint}/{path}", method=method, headers=headers)


@contextmanager
def blob_storage(container: str, workdir: Path) -> Iterator[BlobStandIn]:
    """Azurite's blob service on a free local port over HTTPS (a certificate made for it),
    holding the empty `container`, and the identity endpoint."""
    azurite = shutil.which("azurite-blob")
    if azurite is None:
        pytest.fail(f"azurite-blob is not on PATH: npm install --global azurite@{AZURITE}")
    workdir.mkdir(parents=True, exist_ok=True)
    key, certificate = workdir / "key.pem", workdir / "certificate.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", key, "-out", certificate, "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    port = free_port()
    command = [
        azurite, "--blobHost", "127.0.0.1", "--blobPort", str(port), "--inMemoryPersistence",
        "--oauth", "basic", "--cert", str(certificate), "--key", str(key),
        "--skipApiVersionCheck", "--loose", "--silent",
    ]  # fmt: skip
    context = ssl.create_default_context(cafile=certificate)
    with identity_endpoint() as identity:
        endpoint = f"https://127.0.0.1:{port}/{ACCOUNT}"
        stand_in = BlobStandIn(endpoint, certificate, context, identity)
        create = blob_request(stand_in, f"{container}?restype=container", "PUT")
        # Azurite closes its server on SIGTERM but its process lingers (with --oauth): it
        # is killed, with nothing to lose in memory.
        with served(command, create, workdir / "azurite.log", context, graceful=False):
            yield stand_in


def azure_env(stand_in: BlobStandIn) -> dict[str, str]:
    """The variables that sign DefaultAzureCredential in through the identity endpoint and
    make the clients trust the emulator's certificate."""
    return {
        "IDENTITY_ENDPOINT": stand_in.identity,
        "IDENTITY_HEADER": "stand-in",
        "REQUESTS_CA_BUNDLE": str(stand_in.certificate),
        "SSL_CERT_FILE": str(stand_in.certificate),
    }


def blob_names(stand_in: BlobStandIn, container: str, prefix: str) -> list[str]:
    """The blobs under `prefix` in `container` (List Blobs' first page)."""
    request = blob_request(stand_in, f"{container}?restype=container&comp=list&prefix={prefix}")
    with urllib.request.urlopen(request, context=stand_in.context) as listed:
        root = ET.fromstring(listed.read())
    return [name.text or "" for name in root.iter("Name")]
