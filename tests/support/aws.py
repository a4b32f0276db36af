"""Amazon S3 on this machine, for a rendered project's AWS clients where no AWS account is at
hand: moto's S3 server (run with uvx), which boto3, s3fs and Metaflow's S3 client reach
through botocore's `AWS_ENDPOINT_URL_S3`. Point a process at it with `s3_env`."""

from __future__ import annotations

import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from support.deep import free_port, served_by_uvx

MOTO = "moto[server]==5.2.5"  # the S3 endpoint, run with uvx (not a dependency of anything)
S3_XML = "{http://s3.amazonaws.com/doc/2006-03-01/}"


@contextmanager
def s3_endpoint(bucket: str, log: Path) -> Iterator[str]:
    """moto's S3 server on a free local port, holding the empty `bucket`, as its URL."""
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    create_bucket = urllib.request.Request(f"{endpoint}/{bucket}", method="PUT")
    with served_by_uvx(MOTO, ["moto_server", "-p", str(port)], create_bucket, log):
        yield endpoint


def s3_env(endpoint: str) -> dict[str, str]:
    """The variables that point botocore at the endpoint, with credentials it accepts."""
    return {
        "AWS_ENDPOINT_URL_S3": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }


def s3_keys(endpoint: str, bucket: str, prefix: str) -> list[str]:
    """The keys under `prefix` in `bucket` (ListObjectsV2's first page)."""
    url = f"{endpoint}/{bucket}?list-type=2&prefix={prefix}"
    with urllib.request.urlopen(url) as listed:
        root = ET.fromstring(listed.read())
    return [key.text or "" for key in root.iter(f"{S3_XML}Key")]
