"""``[blobs]``: where sealed files are kept: a folder (``file``, the default) or an S3-compatible
object store (``s3``: Ceph RADOS Gateway, MinIO, Garage, a provider's service; docs/object-storage.md).

The store only ever receives sealed bytes under opaque names. The secret access key is read from
``secret_key_file`` (mode 0600), never from the settings file itself, and never logged.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from chevet.settings.sections import Section

MIN_PART_MB = 5  # S3's smallest part but the last


class BlobsSettings(Section):
    backend: Literal["file", "s3"] = "file"
    endpoint: str | None = Field(None, description='S3 endpoint, e.g. "https://s3.example.fr" (path-style requests)')
    bucket: str | None = Field(None, description="bucket holding the sealed files")
    region: str = Field("us-east-1", description="signing region (Ceph RGW accepts its zonegroup name or us-east-1)")
    access_key_id: str | None = None
    secret_key_file: Path | None = Field(None, description="file holding the secret access key (mode 0600)")
    prefix: str = Field("", description="optional folder inside the bucket, e.g. \"chevet/\"")
    part_size_mb: int = Field(8, ge=MIN_PART_MB, le=512, description="multipart upload part size")
    timeout_seconds: float = Field(30, gt=0, le=600)
    ca_file: Path | None = Field(None, description="CA bundle for a private TLS endpoint")

    @model_validator(mode="after")
    def _complete(self) -> BlobsSettings:
        if self.backend == "s3":
            missing = [name for name in ("endpoint", "bucket", "access_key_id", "secret_key_file")
                       if not getattr(self, name)]
            if missing:
                raise ValueError(f"[blobs] backend = \"s3\" needs {', '.join(missing)}")
            if not (self.endpoint or "").startswith(("http://", "https://")):
                raise ValueError("[blobs] endpoint must start with https:// (or http:// on loopback)")
        if self.prefix and (not self.prefix.endswith("/") or self.prefix.startswith("/") or ".." in self.prefix):
            raise ValueError('[blobs] prefix must look like "folder/"')
        return self
