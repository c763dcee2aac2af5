"""What the attachment actions need besides the database: the blob store, the media
processor, the optional antivirus, and the operator's limits."""

from __future__ import annotations

from dataclasses import dataclass, field

from chevet.ports import BlobStore, MediaProcessor, VirusScanner

UPLOAD_PIECE_BYTES = 1_048_576  # largest piece of a resumable upload


@dataclass(frozen=True, slots=True)
class AttachmentLimits:
    max_upload_bytes: int = 20 * 1_048_576
    families: tuple[str, ...] = ("image", "pdf", "text", "audio")
    quota_org_bytes: int = 20_000_000_000
    quota_person_bytes: int = 2_000_000_000
    max_per_message: int = 10
    max_image_pixels: int = 50_000_000
    image_max_side: int = 2048
    pending_hours: float = 24
    upload_piece_bytes: int = UPLOAD_PIECE_BYTES
    open_upload_bytes: int = 64 * 1_048_576  # resumable uploads one person may have under way


@dataclass(frozen=True, slots=True)
class FootprintSettings:
    network_g_per_gb: float = 49.4
    storage_g_per_gb_year: float | None = None
    storage_source: str = ""


@dataclass
class AttachmentServices:
    blobs: BlobStore
    media: MediaProcessor
    scanner: VirusScanner | None = None
    limits: AttachmentLimits = field(default_factory=AttachmentLimits)
    footprint: FootprintSettings = field(default_factory=FootprintSettings)
