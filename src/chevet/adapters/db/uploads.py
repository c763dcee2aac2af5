"""Resumable uploads and their sealed pieces. Every query is scoped by organisation, or by an
upload already read within it."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from chevet.adapters.db.schema_attachments import attachment_upload, attachment_upload_piece
from chevet.core.upload import PartialUpload


def _upload(row: Any) -> PartialUpload:
    m = row._mapping
    return PartialUpload(id=m["id"], org_id=m["org_id"], conversation_id=m["conversation_id"],
                         person_id=m["person_id"], size=int(m["size"]), received=int(m["received"]),
                         name_sealed=bytes(m["name_sealed"]), created_at=m["created_at"], updated_at=m["updated_at"],
                         attachment_id=m["attachment_id"])


class SqlUploads:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn
        self._pg = conn.dialect.name == "postgresql"

    async def add(self, u: PartialUpload) -> None:
        await self._conn.execute(insert(attachment_upload).values(
            id=u.id, org_id=u.org_id, conversation_id=u.conversation_id, person_id=u.person_id, size=u.size,
            received=u.received, name_sealed=u.name_sealed, created_at=u.created_at, updated_at=u.updated_at))

    async def get(self, org_id: uuid.UUID, upload_id: uuid.UUID, *, lock: bool = False) -> PartialUpload | None:
        q = select(attachment_upload).where(attachment_upload.c.org_id == org_id, attachment_upload.c.id == upload_id)
        if lock and self._pg:
            q = q.with_for_update()
        row = (await self._conn.execute(q)).first()
        return _upload(row) if row is not None else None

    async def append(self, u: PartialUpload, offset: int, sealed: bytes, received: int, now: datetime) -> bool:
        moved = await self._conn.execute(update(attachment_upload).where(
            attachment_upload.c.id == u.id, attachment_upload.c.org_id == u.org_id,
            attachment_upload.c.received == offset).values(received=received, updated_at=now))
        if moved.rowcount != 1:
            return False
        await self._conn.execute(insert(attachment_upload_piece).values(upload_id=u.id, offset=offset, sealed=sealed))
        return True

    async def pieces(self, upload_id: uuid.UUID) -> list[tuple[int, bytes]]:
        rows = await self._conn.execute(select(attachment_upload_piece.c.offset, attachment_upload_piece.c.sealed)
                                        .where(attachment_upload_piece.c.upload_id == upload_id)
                                        .order_by(attachment_upload_piece.c.offset))
        return [(int(r[0]), bytes(r[1])) for r in rows]

    async def delete(self, upload_id: uuid.UUID) -> None:
        piece, upload = attachment_upload_piece, attachment_upload
        await self._conn.execute(delete(piece).where(piece.c.upload_id == upload_id))
        await self._conn.execute(delete(upload).where(upload.c.id == upload_id))

    async def finished(self, upload_id: uuid.UUID, attachment_id: uuid.UUID, now: datetime) -> None:
        piece, upload = attachment_upload_piece, attachment_upload
        await self._conn.execute(delete(piece).where(piece.c.upload_id == upload_id))
        await self._conn.execute(update(upload).where(upload.c.id == upload_id)
                                 .values(attachment_id=attachment_id, updated_at=now))

    async def forget_conversation(self, conversation_id: uuid.UUID) -> None:
        piece, upload = attachment_upload_piece, attachment_upload
        ids = select(upload.c.id).where(upload.c.conversation_id == conversation_id)
        await self._conn.execute(delete(piece).where(piece.c.upload_id.in_(ids)))
        await self._conn.execute(delete(upload).where(upload.c.conversation_id == conversation_id))

    async def open_bytes(self, org_id: uuid.UUID, person_id: uuid.UUID, since: datetime) -> int:
        total = (await self._conn.execute(select(func.coalesce(func.sum(attachment_upload.c.size), 0)).where(
            attachment_upload.c.org_id == org_id, attachment_upload.c.person_id == person_id,
            attachment_upload.c.updated_at >= since, attachment_upload.c.attachment_id.is_(None)))).scalar_one()
        return int(total)

    async def stale(self, before: datetime, limit: int) -> list[PartialUpload]:
        rows = await self._conn.execute(select(attachment_upload).where(attachment_upload.c.updated_at < before)
                                        .order_by(attachment_upload.c.updated_at).limit(limit))
        return [_upload(r) for r in rows]
