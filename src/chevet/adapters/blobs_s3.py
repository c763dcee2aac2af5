"""The S3-compatible blob store: sealed attachment files as objects of one bucket.

Same keys and same promises as the folder store (``adapters/blobs.py``): the caller hands over
ciphertext only; object names are the keys (``<conversation>/<keyed hash>``, checked against the
strict pattern), under an optional prefix. Requests are path-style and signed with Signature
Version 4 (``core/sigv4.py``); every body sent is hashed into the signature.

- ``put``: below one part, a single PUT; above, a multipart upload of ``part_size`` pieces
  (memory bounded by one part), completed only when every part is stored, aborted otherwise.
  An object appears whole or not at all, as S3 defines PUT and CompleteMultipartUpload.
- ``read``: a ranged GET, streamed in pieces.
- ``delete``: idempotent (retention and shredding call it again after a crash).
- An unreachable, slow or refusing store raises ``DependencyUnavailable`` (a 503 for the caller);
  only a missing object is the file's own problem (``IntegrityError``).

Blocking HTTP runs in worker threads, as the folder store's file I/O does: sealing is lazy and
runs while the pieces are consumed.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import time
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from defusedxml import ElementTree

from chevet.core import sigv4
from chevet.core.attachment import is_blob_key
from chevet.core.errors import IntegrityError
from chevet.ports import DependencyUnavailable

READ_SIZE = 256 * 1024
NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"
PROBE_PREFIX = "_ready/"


class _Refused(Exception):
    """The store answered with an unexpected status."""

    def __init__(self, status: int) -> None:
        super().__init__(f"object store answered {status}")
        self.status = status


def _text(node: object, name: str) -> str:
    found = node.find(f"{NS}{name}")  # type: ignore[attr-defined]
    return "" if found is None or found.text is None else str(found.text)


class S3BlobStore:
    def __init__(self, *, endpoint: str, bucket: str, credentials: sigv4.Credentials, region: str = "us-east-1",
                 prefix: str = "", part_size: int = 8 * 1_048_576, timeout: float = 30.0,
                 ca_file: Path | None = None) -> None:
        parts = urlsplit(endpoint)
        self._base = f"{parts.scheme}://{parts.netloc}"
        self._host = parts.netloc
        self._root = parts.path.rstrip("/")
        self.bucket = bucket
        self.prefix = prefix
        self.part_size = part_size
        self._credentials = credentials
        self._region = region
        self._client = httpx.Client(timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
                                    verify=str(ca_file) if ca_file else True, follow_redirects=False,
                                    limits=httpx.Limits(max_connections=32, max_keepalive_connections=16))

    def __repr__(self) -> str:
        return f"S3BlobStore({self._base}, bucket={self.bucket!r})"

    # -- requests ---------------------------------------------------------------------------------

    def _path(self, name: str | None) -> str:
        path = f"{self._root}/{sigv4.uri_encode(self.bucket)}"
        return path if name is None else f"{path}/{sigv4.uri_encode(name, keep_slash=True)}"

    def _name(self, key: str) -> str:
        if not is_blob_key(key):
            raise ValueError("invalid blob key")
        return f"{self.prefix}{key}"

    def _signed(self, method: str, name: str | None, params: Mapping[str, str] | None = None,
                body: bytes = b"", headers: Mapping[str, str] | None = None) -> httpx.Request:
        params = dict(params or {})
        payload_hash = hashlib.sha256(body).hexdigest() if body else sigv4.EMPTY_SHA256
        when = sigv4.amz_date(datetime.now(UTC))
        signed = {"host": self._host, "x-amz-date": when, "x-amz-content-sha256": payload_hash, **(headers or {})}
        path = self._path(name)
        signed["authorization"] = sigv4.authorization(self._credentials, method=method, path=path, params=params,
                                                      headers=signed, payload_hash=payload_hash, amz_date=when,
                                                      region=self._region)
        query = sigv4.canonical_query(params)
        url = f"{self._base}{path}" + (f"?{query}" if query else "")
        return self._client.build_request(method, url, headers=signed, content=body or None)

    def _send(self, request: httpx.Request, ok: tuple[int, ...] = (200,)) -> httpx.Response:
        response = self._client.send(request)
        if response.status_code not in ok:
            status = response.status_code
            response.close()
            raise _Refused(status)
        return response

    # -- writing ----------------------------------------------------------------------------------

    def _put(self, key: str, pieces: Iterable[bytes]) -> int:
        name = self._name(key)
        buffer = bytearray()
        written = 0
        upload_id: str | None = None
        etags: list[str] = []
        try:
            for piece in pieces:
                buffer += piece
                written += len(piece)
                while len(buffer) >= self.part_size:
                    if upload_id is None:
                        upload_id = self._start_upload(name)
                    etags.append(self._upload_part(name, upload_id, len(etags) + 1, bytes(buffer[:self.part_size])))
                    del buffer[:self.part_size]
            if upload_id is None:
                self._send(self._signed("PUT", name, body=bytes(buffer))).close()
                return written
            if buffer or not etags:
                etags.append(self._upload_part(name, upload_id, len(etags) + 1, bytes(buffer)))
            self._complete(name, upload_id, etags)
            upload_id = None
            return written
        finally:
            if upload_id is not None:  # never leave a half upload behind (it costs storage)
                try:
                    self._send(self._signed("DELETE", name, {"uploadId": upload_id}), ok=(204, 200, 404)).close()
                except (httpx.HTTPError, _Refused):
                    pass

    def _start_upload(self, name: str) -> str:
        response = self._send(self._signed("POST", name, {"uploads": ""}))
        try:
            upload_id = _text(ElementTree.fromstring(response.content), "UploadId")
        finally:
            response.close()
        if not upload_id:
            raise _Refused(response.status_code)
        return upload_id

    def _upload_part(self, name: str, upload_id: str, number: int, data: bytes) -> str:
        response = self._send(self._signed("PUT", name, {"partNumber": str(number), "uploadId": upload_id}, data))
        response.close()
        return str(response.headers.get("etag", ""))

    def _complete(self, name: str, upload_id: str, etags: list[str]) -> None:
        parts = "".join(f"<Part><PartNumber>{n}</PartNumber><ETag>{etag}</ETag></Part>"
                        for n, etag in enumerate(etags, start=1))
        body = f"<CompleteMultipartUpload>{parts}</CompleteMultipartUpload>".encode()
        response = self._send(self._signed("POST", name, {"uploadId": upload_id}, body))
        try:
            # S3 may answer 200 with an error document when completion fails late.
            if b"<Error>" in response.content[:512]:
                raise _Refused(500)
        finally:
            response.close()

    async def put(self, key: str, pieces: Iterable[bytes]) -> int:
        """Store ``pieces`` (sealing can be lazy: it runs in the writer thread) under ``key``."""
        try:
            return await asyncio.to_thread(self._put, key, pieces)
        except (httpx.HTTPError, _Refused, ElementTree.ParseError, OSError) as exc:
            raise DependencyUnavailable("blob_store") from exc

    # -- reading ----------------------------------------------------------------------------------

    def _open(self, key: str, offset: int, length: int | None) -> httpx.Response | None:
        headers: dict[str, str] = {}
        if offset or length is not None:
            end = "" if length is None else str(offset + length - 1)
            headers["range"] = f"bytes={offset}-{end}"
        request = self._signed("GET", self._name(key), headers=headers)
        response = self._client.send(request, stream=True)
        if response.status_code in (200, 206):
            return response
        response.close()
        if response.status_code == 404:
            raise IntegrityError("attachment_missing")
        if response.status_code == 416:  # from past the end: nothing, as a file read would give
            return None
        raise _Refused(response.status_code)

    async def read(self, key: str, offset: int = 0, length: int | None = None) -> AsyncIterator[bytes]:
        """The stored bytes from ``offset``, ``length`` of them (all when None), in pieces."""
        if length is not None and length <= 0:
            return
        try:
            response = await asyncio.to_thread(self._open, key, offset, length)
        except (httpx.HTTPError, _Refused) as exc:
            raise DependencyUnavailable("blob_store") from exc
        if response is None:
            return
        pieces: Iterator[bytes] = response.iter_bytes(READ_SIZE)
        try:
            while True:
                try:
                    piece = await asyncio.to_thread(next, pieces, b"")
                except httpx.HTTPError as exc:
                    raise DependencyUnavailable("blob_store") from exc
                if not piece:
                    return
                yield piece
        finally:
            await asyncio.to_thread(response.close)

    def _size(self, key: str) -> int | None:
        response = self._send(self._signed("HEAD", self._name(key)), ok=(200, 404))
        response.close()
        return None if response.status_code == 404 else int(response.headers.get("content-length", "0"))

    async def size(self, key: str) -> int | None:
        try:
            return await asyncio.to_thread(self._size, key)
        except (httpx.HTTPError, _Refused) as exc:
            raise DependencyUnavailable("blob_store") from exc

    # -- deleting, listing, readiness -------------------------------------------------------------

    def _delete(self, name: str) -> None:
        self._send(self._signed("DELETE", name), ok=(204, 200, 404)).close()

    async def delete(self, key: str) -> None:
        name = self._name(key)
        try:
            await asyncio.to_thread(self._delete, name)
        except (httpx.HTTPError, _Refused) as exc:
            raise DependencyUnavailable("blob_store") from exc

    def _keys(self, older_than_seconds: float) -> list[str]:
        horizon = time.time() - older_than_seconds
        out: list[str] = []
        token: str | None = None
        while True:
            params = {"list-type": "2", "max-keys": "1000"}
            if self.prefix:
                params["prefix"] = self.prefix
            if token:
                params["continuation-token"] = token
            response = self._send(self._signed("GET", None, params))
            try:
                root = ElementTree.fromstring(response.content)
            finally:
                response.close()
            for item in root.iter(f"{NS}Contents"):
                key = _text(item, "Key")[len(self.prefix):]
                if not is_blob_key(key):
                    continue
                if older_than_seconds > 0:
                    modified = datetime.fromisoformat(_text(item, "LastModified").replace("Z", "+00:00"))
                    if modified.timestamp() >= horizon:
                        continue
                out.append(key)
            token = _text(root, "NextContinuationToken")
            if _text(root, "IsTruncated") != "true" or not token:
                return sorted(out)

    async def keys(self, older_than_seconds: float = 0) -> list[str]:
        """Stored keys (for the consistency check that finds orphaned files); with
        ``older_than_seconds``, only objects written before then (not an upload in progress)."""
        try:
            return await asyncio.to_thread(self._keys, older_than_seconds)
        except (httpx.HTTPError, _Refused, ElementTree.ParseError) as exc:
            raise DependencyUnavailable("blob_store") from exc

    def _ping(self) -> None:
        probe = f"{self.prefix}{PROBE_PREFIX}{secrets.token_hex(8)}"
        self._send(self._signed("PUT", probe, body=b"ready")).close()
        self._delete(probe)

    async def ping(self) -> None:
        """Ready when a small object can be written to (and removed from) the bucket now."""
        try:
            await asyncio.to_thread(self._ping)
        except (httpx.HTTPError, _Refused) as exc:
            raise DependencyUnavailable("blob_store") from exc

    def _ensure_bucket(self) -> None:
        self._send(self._signed("PUT", None), ok=(200, 409)).close()

    async def ensure_bucket(self) -> None:
        """Create the bucket if it does not exist (``chevet init``, the tests); an existing one is kept."""
        try:
            await asyncio.to_thread(self._ensure_bucket)
        except (httpx.HTTPError, _Refused) as exc:
            raise DependencyUnavailable("blob_store") from exc

    def close(self) -> None:
        self._client.close()
