"""The S3 object store the tests use: the single-node Ceph RADOS Gateway that ``.ci/setup-ceph``
starts on 127.0.0.1:17480, with a test user whose keys it writes to a 0600 file."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import httpx

from chevet.adapters.blobs_s3 import S3BlobStore
from chevet.core import sigv4

ENV_FILE = Path(os.environ.get("CHEVET_S3_TEST_ENV", "/var/lib/chevet-ceph/s3-test.env"))
BUCKET = "chevet-tests"


def s3_settings() -> dict[str, str] | None:
    """Endpoint and keys of the test gateway, or None when it is not set up or not answering."""
    try:
        lines = ENV_FILE.read_text().splitlines()
    except OSError:
        return None
    values = dict(line.split("=", 1) for line in lines if "=" in line)
    try:
        httpx.get(values["CHEVET_S3_ENDPOINT"] + "/", timeout=3)
    except (httpx.HTTPError, KeyError):
        return None
    return values


def s3_store(values: dict[str, str], *, prefix: str | None = None, part_size: int = 5 * 1_048_576,
             endpoint: str | None = None, timeout: float = 10.0) -> S3BlobStore:
    """A store on the test bucket, under a prefix of its own (tests do not see each other's keys)."""
    return S3BlobStore(endpoint=endpoint or values["CHEVET_S3_ENDPOINT"], bucket=BUCKET,
                       credentials=sigv4.Credentials(values["CHEVET_S3_ACCESS_KEY_ID"],
                                                     values["CHEVET_S3_SECRET_ACCESS_KEY"]),
                       prefix=f"t-{secrets.token_hex(6)}/" if prefix is None else prefix,
                       part_size=part_size, timeout=timeout)
