"""Attachments: what may be attached, how a type is recognised, how a file name is cleaned.

The type of a file is decided from its first bytes, never from the name or the type the
client claims: a script renamed ``photo.jpg`` is not an image. Only the types on the allow-list
are accepted; images are re-encoded by the server (so whatever hides behind the pixels is
dropped), PDFs and plain text are kept as they are after structural checks.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from chevet.core import envelope, voice
from chevet.core.envelope import DataKey
from chevet.core.errors import InvalidInput


class AttachmentKind(StrEnum):
    """What the sobriety dashboard counts separately (with ``text`` for message bodies)."""

    IMAGE = "image"
    DOCUMENT = "document"


class AttachmentOrigin(StrEnum):
    """Where a file came from: a member's upload, or a document received over MSSanté (no
    member uploaded it; the gateway stored it, after the same checks)."""

    MEMBER = "member"
    MSSANTE = "mssante"


class Variant(StrEnum):
    CONTENT = "content"
    THUMBNAIL = "thumbnail"
    ORIGINAL = "original"


@dataclass(frozen=True, slots=True)
class FileType:
    mime: str
    kind: AttachmentKind
    extension: str
    family: str  # the allow-list name an operator enables: image, pdf, text


IMAGE_TYPES = {
    "image/jpeg": FileType("image/jpeg", AttachmentKind.IMAGE, "jpg", "image"),
    "image/png": FileType("image/png", AttachmentKind.IMAGE, "png", "image"),
    "image/webp": FileType("image/webp", AttachmentKind.IMAGE, "webp", "image"),
    "image/gif": FileType("image/gif", AttachmentKind.IMAGE, "gif", "image"),
    "image/tiff": FileType("image/tiff", AttachmentKind.IMAGE, "tif", "image"),
    "image/avif": FileType("image/avif", AttachmentKind.IMAGE, "avif", "image"),
}
PDF = FileType("application/pdf", AttachmentKind.DOCUMENT, "pdf", "pdf")
TEXT = FileType("text/plain", AttachmentKind.DOCUMENT, "txt", "text")
# Voice messages: Opus in WebM (Chromium) or Ogg (Firefox), checked by ``chevet.core.voice``.
VOICE_TYPES = {
    "audio/webm": FileType("audio/webm", AttachmentKind.DOCUMENT, "webm", "audio"),
    "audio/ogg": FileType("audio/ogg", AttachmentKind.DOCUMENT, "ogg", "audio"),
}
FAMILIES = ("image", "pdf", "text", "audio")
# What an MSSanté exchange carries besides PDFs, images and text: HL7 CDA R2 documents and
# IHE_XDM.zip packages. Accepted from the gateway only (the member allow-list is unchanged).
CDA = FileType("text/xml", AttachmentKind.DOCUMENT, "xml", "cda")
XDM = FileType("application/zip", AttachmentKind.DOCUMENT, "zip", "xdm")
EXCHANGE_FAMILIES = ("image", "pdf", "text", "cda", "xdm")
# A file of unknown type, kept byte for byte (documents from before the attachment store).
BINARY = FileType("application/octet-stream", AttachmentKind.DOCUMENT, "bin", "binary")


def type_of(mime: str) -> FileType:
    """The type record of a stored file (its extension, its family)."""
    if mime in IMAGE_TYPES:
        return IMAGE_TYPES[mime]
    if mime in VOICE_TYPES:
        return VOICE_TYPES[mime]
    return {PDF.mime: PDF, CDA.mime: CDA, XDM.mime: XDM, BINARY.mime: BINARY}.get(mime, TEXT)


# Output types of the server's own re-encoding.
WEBP = IMAGE_TYPES["image/webp"]
AVIF = IMAGE_TYPES["image/avif"]


def sniff(data: bytes) -> FileType | None:
    """The file's type from its leading bytes (magic numbers), or None when not recognised."""
    head = data[:32]
    if head.startswith(b"\xff\xd8\xff"):
        return IMAGE_TYPES["image/jpeg"]
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return IMAGE_TYPES["image/png"]
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return IMAGE_TYPES["image/webp"]
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return IMAGE_TYPES["image/gif"]
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return IMAGE_TYPES["image/tiff"]
    if head[4:8] == b"ftyp" and head[8:12] in (b"avif", b"avis"):
        return IMAGE_TYPES["image/avif"]
    if head.startswith(b"%PDF-"):
        return PDF
    if voice.is_audio_container(head):
        return VOICE_TYPES["audio/ogg" if head.startswith(b"OggS") else "audio/webm"]
    if _is_plain_text(data):
        return TEXT
    return None


def sniff_exchange(data: bytes) -> FileType | None:
    """Like ``sniff``, plus the two structured types of MSSanté: a ZIP (only ever stored once
    read as an IHE_XDM package) and an XML file whose root is an HL7 CDA ``ClinicalDocument``."""
    found = sniff(data)
    if found is not None:
        return found
    if data.startswith(b"PK\x03\x04"):
        return XDM
    head = data[:2048].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith((b"<?xml", b"<ClinicalDocument")) and b"<ClinicalDocument" in head \
            and b"urn:hl7-org:v3" in head:
        return CDA
    return None


_TEXT_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")


def _is_plain_text(data: bytes) -> bool:
    if not data:
        return False
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    # Markup that a browser would interpret is not "plain text" whatever its extension.
    start = text.lstrip("\ufeff \t\r\n")[:64].lower()
    if start.startswith(("<!doctype", "<html", "<svg", "<?xml", "<script")):
        return False
    return _TEXT_CONTROL.search(text) is None


def check_pdf(data: bytes) -> None:
    """Structural checks on a PDF kept as sent: it starts with its header at byte 0, it ends
    with an end-of-file marker, and it does not also carry a ZIP directory or HTML at its edges
    (the usual polyglot tricks that make one file two things)."""
    if not data.startswith(b"%PDF-1.") and not data.startswith(b"%PDF-2."):
        raise InvalidInput("attachment_pdf_invalid")
    tail = data[-1024:]
    if b"%%EOF" not in tail:
        raise InvalidInput("attachment_pdf_invalid")
    after = tail[tail.rfind(b"%%EOF") + 5:]
    if after.strip(b"\r\n\t \x00"):
        raise InvalidInput("attachment_polyglot")
    if b"PK\x05\x06" in data[-(65536 + 22):] or b"PK\x03\x04" in data[:1024]:
        raise InvalidInput("attachment_polyglot")
    head = data[:1024].lower()
    if b"<html" in head or b"<script" in head or b"<!doctype" in head:
        raise InvalidInput("attachment_polyglot")


MAX_NAME = 180
_UNSAFE_NAME = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*]')
_RESERVED = re.compile(r"^(con|prn|aux|nul|com\d|lpt\d)(\..*)?$", re.I)


def clean_name(name: str | None, file_type: FileType) -> str:
    """A file name safe to show and to offer for saving: no directories (``../``, ``C:\\``),
    no control or bidirectional-override characters, no reserved device names, bounded, and
    with the extension of the type actually stored (a photo re-encoded to WebP is ``.webp``)."""
    raw = unicodedata.normalize("NFC", name or "")
    raw = raw.replace("\\", "/").rsplit("/", 1)[-1]
    raw = "".join(c for c in raw if unicodedata.category(c) not in ("Cc", "Cf", "Cs", "Co", "Cn"))
    raw = _UNSAFE_NAME.sub("_", raw)
    raw = " ".join(raw.split()).strip(" .")
    stem = raw.rsplit(".", 1)[0] if "." in raw else raw
    stem = stem.strip(" .")
    if not stem or _RESERVED.match(stem):
        stem = "piece-jointe"
    ext = "." + file_type.extension
    stem = stem[:MAX_NAME - len(ext)].rstrip(" .") or "piece-jointe"
    return stem + ext


@dataclass(frozen=True, slots=True)
class ProcessedImage:
    """An image as the server stores it: re-encoded pixels only, and a small thumbnail."""

    content: bytes
    mime: str
    width: int
    height: int
    thumbnail: bytes
    thumbnail_mime: str


_BLOB_KEY = re.compile(r"^[0-9a-f]{32}/[0-9a-f]{64}$")


def blob_key(conversation_hex: str, address: bytes) -> str:
    """Where a sealed file lives in the blob store: its conversation, then its keyed hash."""
    key = f"{conversation_hex}/{address.hex()}"
    if not _BLOB_KEY.match(key):
        raise ValueError("invalid blob key")
    return key


def is_blob_key(key: str) -> bool:
    return bool(_BLOB_KEY.match(key))


@dataclass(frozen=True, slots=True)
class Attachment:
    """One file attached (or about to be attached) to a message.

    ``entry_id`` is None between the upload and the message that references it. Contents live
    in the blob store under keyed hashes of the conversation (``*_address``); the name is
    sealed. ``deduplicated`` says the contents were already stored in this conversation."""

    id: uuid.UUID
    org_id: uuid.UUID
    conversation_id: uuid.UUID
    uploader_id: uuid.UUID | None  # None: received over MSSanté (``origin``), no member uploaded it
    entry_id: uuid.UUID | None
    created_at: datetime
    kind: AttachmentKind
    mime: str
    size: int
    uploaded_size: int
    width: int | None
    height: int | None
    name_sealed: bytes
    content_address: bytes
    thumbnail_address: bytes | None
    original_address: bytes | None
    dedup_tag: bytes
    deduplicated: bool
    origin: AttachmentOrigin = AttachmentOrigin.MEMBER
    duration_ms: int | None = None  # a voice message's length (``chevet.core.voice``)

    def address_of(self, variant: Variant) -> bytes | None:
        if variant is Variant.THUMBNAIL:
            return self.thumbnail_address
        if variant is Variant.ORIGINAL:
            return self.original_address
        return self.content_address


@dataclass(frozen=True, slots=True)
class StoredBlob:
    """One sealed file in the blob store, counted once however many attachments share it.
    ``owner_id`` is whom the quota charges (the first uploader still referencing it); None for
    a received document, counted in the organisation's usage only."""

    conversation_id: uuid.UUID
    address: bytes
    org_id: uuid.UUID
    owner_id: uuid.UUID | None
    kind: AttachmentKind
    variant: Variant
    size: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class AttachmentRules:
    """An organisation's own settings: quotas overriding the installation's defaults, and the
    conversation kinds for which original files are kept next to the processed ones."""

    org_id: uuid.UUID
    org_quota_bytes: int | None = None
    person_quota_bytes: int | None = None
    keep_originals_for: frozenset[str] = frozenset()


def blob_address(key: DataKey, data: bytes) -> bytes:
    """Content address inside one conversation: a keyed hash under a key derived from the
    conversation's data key. Equal files in one conversation share one stored copy; the same
    file in two conversations gets unrelated addresses, so nothing fingerprints a file
    across conversations or organisations."""
    return hmac.new(envelope.derive_key(key.material, "attachment-address"), data, hashlib.sha256).digest()


def dedup_tag(key: DataKey, data: bytes) -> bytes:
    """Keyed hash of the file as uploaded: a second upload of the same file in the same
    conversation reuses the processed copy without decoding it again."""
    return hmac.new(envelope.derive_key(key.material, "attachment-dedup"), data, hashlib.sha256).digest()


def content_key(key: DataKey) -> bytes:
    """The key that seals file contents: derived from the conversation's data key (so that
    shredding that key shreds the files too), separate from the one sealing message bodies."""
    return envelope.derive_key(key.material, "attachment-content")


def blob_aad(conversation_id: uuid.UUID, address: bytes) -> bytes:
    return envelope.aad("blob", conversation_id) + address


def name_aad(conversation_id: uuid.UUID, attachment_id: uuid.UUID) -> bytes:
    return envelope.aad("attname", conversation_id, attachment_id)
