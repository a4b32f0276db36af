"""Google Cloud's endpoints on this machine, for a rendered project's Google client libraries
where no Google account is at hand: the metadata server, which google.auth's default
credentials ask for a project and a token (any token: nothing checks it), and a Cloud
Storage emulator (gcp-storage-emulator, run with uvx). Point a process at them with
`google_cloud_env`."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from support.deep import free_port, local_http_server, served_by_uvx

GCS_EMULATOR = "gcp-storage-emulator==2026.7.19"  # run with uvx, not a dependency of anything
PROJECT = "demo-project"
SERVICE_ACCOUNT = f"steps@{PROJECT}.iam.gserviceaccount.com"


# The metadata paths google.auth reads on a VM: its project, its account and a token.
METADATA = {
    "/computeMetadata/v1/project/project-id": PROJECT,
    "/computeMetadata/v1/instance/service-accounts/default/email": SERVICE_ACCOUNT,
    "/computeMetadata/v1/instance/service-accounts/default/token": json.dumps(
        {"access_token": "stand-in", "expires_in": 3600, "token_type": "Bearer"}
    ),
    "/computeMetadata/v1/instance/service-accounts/default/": json.dumps(
        {"email": SERVICE_ACCOUNT, "aliases": ["default"], "scopes": []}
    ),
}


class MetadataHandler(BaseHTTPRequestHandler):
    """Answers METADATA's paths, and "/" (google.auth's check that it runs on a VM)."""

    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        body = METADATA.get(path, "")
        self.send_response(200 if path in METADATA or path == "/" else 404)
        self.send_header("Metadata-Flavor", "Google")
        self.send_header("Content-Type", "application/json" if body[:1] == "{" else "text/plain")
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *_: object) -> None:  # quiet: the test shows what failed
        pass


@contextmanager
def metadata_server() -> Iterator[str]:
    """The metadata server on a free local port, as `host:port`."""
    with local_http_server(MetadataHandler) as address:
        yield address


@contextmanager
def storage_emulator(bucket: str, log: Path) -> Iterator[str]:
    """Cloud Storage on a free local port, holding the empty `bucket`, as its URL."""
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    command = ["gcp-storage-emulator", "start", "--host", "127.0.0.1", "--port", str(port)]
    command += ["--in-memory", f"--default-bucket={bucket}"]
    probe = urllib.request.Request(f"{endpoint}/storage/v1/b/{bucket}")
    with served_by_uvx(GCS_EMULATOR, command, probe, log):
        yield endpoint


def google_cloud_env(metadata: str, storage: str) -> dict[str, str]:
    """The variables that point google.auth and google-cloud-storage at the stand-ins."""
    return {
        "GCE_METADATA_HOST": metadata,
        "GCE_METADATA_IP": metadata,
        "STORAGE_EMULATOR_HOST": storage,
        "GOOGLE_CLOUD_PROJECT": PROJECT,
    }
