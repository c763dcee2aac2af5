"""AWS Signature Version 4 for S3-compatible object stores (sans-I/O: a request in, headers out).

The canonical request, the string to sign and the signing key follow the AWS general reference
("Signature Version 4 signing process", and the S3 API reference "Authenticating Requests:
Using the Authorization Header"). Checked against AWS's own published examples in
``tests/unit/test_sigv4.py``. Paths are given already encoded once (S3 does not double-encode).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
ALGORITHM = "AWS4-HMAC-SHA256"


@dataclass(frozen=True, slots=True)
class Credentials:
    access_key_id: str
    secret_access_key: str

    def __repr__(self) -> str:  # the secret never reaches a log or a traceback
        return f"Credentials(access_key_id={self.access_key_id!r}, secret_access_key=***)"


def uri_encode(value: str, *, keep_slash: bool = False) -> str:
    """RFC 3986 unreserved characters kept, everything else percent-encoded (upper-case hex)."""
    return quote(value, safe="-_.~/" if keep_slash else "-_.~")


def canonical_query(params: Mapping[str, str]) -> str:
    pairs = sorted((uri_encode(k), uri_encode(v)) for k, v in params.items())
    return "&".join(f"{k}={v}" for k, v in pairs)


def _canonical_headers(headers: Mapping[str, str]) -> tuple[str, str]:
    folded: dict[str, str] = {}
    for name, value in headers.items():
        folded[name.strip().lower()] = " ".join(value.strip().split())
    names = sorted(folded)
    return "".join(f"{n}:{folded[n]}\n" for n in names), ";".join(names)


def canonical_request(method: str, path: str, params: Mapping[str, str], headers: Mapping[str, str],
                      payload_hash: str) -> tuple[str, str]:
    """The canonical request and its signed-headers list."""
    canonical, signed = _canonical_headers(headers)
    text = "\n".join([method.upper(), path or "/", canonical_query(params), canonical, signed, payload_hash])
    return text, signed


def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    key = hmac.new(f"AWS4{secret}".encode(), date.encode(), hashlib.sha256).digest()
    for part in (region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def authorization(credentials: Credentials, *, method: str, path: str, params: Mapping[str, str],
                  headers: Mapping[str, str], payload_hash: str, amz_date: str, region: str,
                  service: str = "s3") -> str:
    """The ``Authorization`` header for a request whose headers already hold ``host`` and
    ``x-amz-date`` (and, for S3, ``x-amz-content-sha256``)."""
    request, signed = canonical_request(method, path, params, headers, payload_hash)
    day = amz_date[:8]
    scope = f"{day}/{region}/{service}/aws4_request"
    to_sign = "\n".join([ALGORITHM, amz_date, scope, hashlib.sha256(request.encode()).hexdigest()])
    signature = hmac.new(signing_key(credentials.secret_access_key, day, region, service), to_sign.encode(),
                         hashlib.sha256).hexdigest()
    return f"{ALGORITHM} Credential={credentials.access_key_id}/{scope}, SignedHeaders={signed}, Signature={signature}"


def amz_date(moment: datetime) -> str:
    """``YYYYMMDD'T'HHMMSS'Z'`` of an aware datetime (signatures are in UTC by definition)."""
    if moment.tzinfo is None:
        raise ValueError("aware datetime required")
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
