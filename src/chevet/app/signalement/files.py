"""Files filed with a report: photos and documents through the attachment pipeline, owned by
the report rather than by a conversation or a person.

The same checks as any attachment (size, allow-list by content, antivirus, images re-encoded
so EXIF and GPS are gone, PDFs checked) run before anything is written. Contents are sealed
with a key derived from the report's data key and stored in the blob store under keyed
hashes of the report; destroying the report key shreds them. Nothing records who uploaded a
file or when, and an anonymous report keeps no file name at all (a phone names its photos
after the moment they were taken, a scanned document may carry a name). The files count in
the organisation's quota, never in a person's: an anonymous reporter is charged nothing that
would point back to them.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncGenerator, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from chevet.app.attachments import upload as attachments
from chevet.app.attachments.config import AttachmentLimits
from chevet.app.attachments.download import Download, RangeNotSatisfiable, opened_range
from chevet.app.attachments.download import opened as opened_blob
from chevet.app.attachments.upload import Prepared, check_org_quota, configured, prepare, screen
from chevet.app.services import Services, Unit
from chevet.app.signalement.views import FilingLimitsView, ReportFileView
from chevet.core import sealed_stream
from chevet.core.attachment import (
    Variant,
    blob_aad,
    blob_key,
    clean_name,
    content_key,
    name_aad,
    sniff,
    type_of,
)
from chevet.core.envelope import DataKey
from chevet.core.errors import IntegrityError, InvalidInput, NotFound, TooLarge
from chevet.core.signalement.records import ReportFile
from chevet.core.signalement.taxonomy import ReporterMode


@dataclass(frozen=True, slots=True)
class IncomingFile:
    name: str | None
    data: bytes


@dataclass(frozen=True, slots=True)
class ReadyFile:
    """A file that passed every check, processed and addressed, waiting for its report."""

    name: str | None  # cleaned; None when the report keeps no names
    prepared: Prepared


def blob_key_of(report_id: uuid.UUID, address: bytes) -> str:
    return blob_key(report_id.hex, address)


def limits_view(services: Services) -> FilingLimitsView:
    """What the filing form tells before any upload: accepted types, how many files, how heavy."""
    lim = limits(services)
    return {"accepted_types": attachments.limits_view(services)["accepted_types"], "max_files": lim.max_per_message,
            "max_bytes": lim.max_upload_bytes}


def limits(services: Services) -> AttachmentLimits:
    """How many files a report takes and how much they may weigh together."""
    return configured(services).limits


async def check(services: Services, key: DataKey, mode: ReporterMode,
                files: Sequence[IncomingFile]) -> list[ReadyFile]:
    """Refuse, before anything is written, whatever the pipeline refuses; process the rest.
    The files of one report weigh together at most one upload's limit."""
    if not files:
        return []
    cfg = configured(services)
    if len(files) > cfg.limits.max_per_message:
        raise InvalidInput("too_many_attachments", max=cfg.limits.max_per_message)
    if sum(len(f.data) for f in files) > cfg.limits.max_upload_bytes:
        raise TooLarge("attachment_too_large", max=cfg.limits.max_upload_bytes)
    ready = []
    for f in files:
        if not f.data:
            raise InvalidInput("attachment_empty")
        file_type = await screen(services, f.data, await asyncio.to_thread(sniff, f.data))
        prepared = await prepare(cfg, key, f.data, file_type, keep_original=False)
        name = None if mode is ReporterMode.ANONYMOUS else clean_name(f.name, type_of(prepared.mime))
        ready.append(ReadyFile(name, prepared))
    return ready


async def store(u: Unit, org_id: uuid.UUID, report_id: uuid.UUID, key: DataKey, ready: Sequence[ReadyFile],
                id_of: Callable[[], uuid.UUID], written: list[str]) -> list[ReportFile]:
    """Write the sealed contents and the rows, inside the filing transaction. ``written``
    collects the blob keys so that the caller can remove them if the transaction fails."""
    if not ready:
        return []
    cfg = configured(u.services)
    rules = await u.tx.attachments.rules(org_id)
    await u.tx.attachments.lock_organisation(org_id)
    contents = {}
    for r in ready:
        _, content, address = next(v for v in r.prepared.variants if v[0] is Variant.CONTENT)
        contents[address] = content
    needed = sum(sealed_stream.sealed_size(len(c)) for c in contents.values())
    await check_org_quota(u.tx, cfg, org_id, rules, needed)
    sizes = {}
    for address, content in contents.items():
        blob = blob_key_of(report_id, address)
        written.append(blob)
        sizes[address] = await cfg.blobs.put(blob, sealed_stream.seal(content_key(key), blob_aad(report_id, address),
                                                                      content))
    out = []
    for position, r in enumerate(ready):
        _, _, address = next(v for v in r.prepared.variants if v[0] is Variant.CONTENT)
        file_id = id_of()
        f = ReportFile(id=file_id, report_id=report_id, org_id=org_id, position=position, kind=r.prepared.kind,
                       mime=r.prepared.mime, size=r.prepared.size, stored_size=sizes[address],
                       width=r.prepared.width, height=r.prepared.height,
                       name_sealed=key.seal(r.name.encode(), name_aad(report_id, file_id)) if r.name else None,
                       content_address=address)
        await u.tx.reports.add_file(f)
        out.append(f)
    return out


def display_name(f: ReportFile, key: DataKey, *, names: bool) -> str:
    """The file's own name when the viewer may know it, otherwise "piece-<n>.<ext>"."""
    if names and f.name_sealed is not None:
        return key.open(f.name_sealed, name_aad(f.report_id, f.id)).decode()
    return f"piece-{f.position + 1}.{type_of(f.mime).extension}"


def views(files: Sequence[ReportFile], key: DataKey, *, names: bool) -> list[ReportFileView]:
    return [{"id": str(f.id), "kind": f.kind.value, "mime": f.mime, "size": f.size, "width": f.width,
             "height": f.height, "name": display_name(f, key, names=names)} for f in files]


def export_list(files: Sequence[ReportFile], key: DataKey, *, names: bool) -> list[dict[str, Any]]:
    """What a regulatory export says of the files: their type and size, and their names only
    when the report is named (a file name must not reveal a confidential reporter)."""
    return [{"position": f.position + 1, "kind": f.kind.value, "mime": f.mime, "size": f.size,
             **({"name": display_name(f, key, names=True)} if names and f.name_sealed is not None else {})}
            for f in files]


async def removable(u: Unit, report_id: uuid.UUID) -> list[str]:
    """The blob keys of a report's files, to delete once its rows are gone."""
    return sorted({blob_key_of(report_id, f.content_address) for f in await u.tx.reports.files(report_id)})


async def opened(services: Services, f: ReportFile, key: DataKey, name: str,
                 byte_range: tuple[int, int] | None) -> Download:
    """The decrypted file, whole or one byte range (after the caller checked access)."""
    cfg = configured(services)
    blob = blob_key_of(f.report_id, f.content_address)
    sealed = await cfg.blobs.size(blob)
    if sealed is None:
        raise IntegrityError("attachment_missing")
    size = sealed_stream.plain_size(sealed)
    body: AsyncGenerator[bytes, None]
    if byte_range is not None:
        start, end = byte_range[0], min(byte_range[1], size - 1)
        if not 0 <= start <= end:
            raise RangeNotSatisfiable("range_not_satisfiable", size=size)
        body = opened_range(cfg, key, f.report_id, f.content_address, blob, size, start, end)
        return Download(name=name, mime=f.mime, size=size, kind=f.kind, byte_range=(start, end), body=body)
    body = opened_blob(cfg, key, f.report_id, f.content_address, blob)
    return Download(name=name, mime=f.mime, size=size, kind=f.kind, body=body)


def find(files: Sequence[ReportFile], file_id: uuid.UUID) -> ReportFile:
    for f in files:
        if f.id == file_id:
            return f
    raise NotFound("attachment_not_found")

