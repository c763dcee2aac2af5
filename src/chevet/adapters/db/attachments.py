"""Attachment rows, stored-file rows, per-organisation rules, and the sums behind quotas and
the sobriety dashboard. Every query is scoped by organisation or by a conversation the
caller has already been checked against."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, case, delete, func, insert, select, type_coerce, update
from sqlalchemy.ext.asyncio import AsyncConnection

from chevet.adapters.db.schema import conversation, entry, member, organisation
from chevet.adapters.db.schema_attachments import attachment, attachment_blob, attachment_rules
from chevet.core.attachment import Attachment, AttachmentKind, AttachmentOrigin, AttachmentRules, StoredBlob, Variant
from chevet.core.sobriety import MICROS_PER_DAY


def _attachment(row: Any) -> Attachment:
    m = row._mapping

    def _b(v: Any) -> bytes | None:
        return bytes(v) if v is not None else None

    return Attachment(
        id=m["id"], org_id=m["org_id"], conversation_id=m["conversation_id"], uploader_id=m["uploader_id"],
        entry_id=m["entry_id"], created_at=m["created_at"], kind=AttachmentKind(m["kind"]), mime=m["mime"],
        size=int(m["size"]), uploaded_size=int(m["uploaded_size"]), width=m["width"], height=m["height"],
        name_sealed=bytes(m["name_sealed"]), content_address=bytes(m["content_address"]),
        thumbnail_address=_b(m["thumbnail_address"]), original_address=_b(m["original_address"]),
        dedup_tag=bytes(m["dedup_tag"]), deduplicated=bool(m["deduplicated"]),
        origin=AttachmentOrigin(m["origin"]), duration_ms=m["duration_ms"])


class SqlAttachments:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn
        self._pg = conn.dialect.name == "postgresql"

    # --- writing ---------------------------------------------------------------------------
    async def lock_organisation(self, org_id: uuid.UUID) -> None:
        """Serialise the organisation's attachment writes (quota sums, dedup lookup, then write).
        ``FOR NO KEY UPDATE`` leaves inserts that merely reference the organisation unblocked.
        SQLite transactions already hold the database's write lock from their first statement."""
        if self._pg:
            await self._conn.execute(select(organisation.c.id).where(organisation.c.id == org_id)
                                     .with_for_update(key_share=True))

    async def add(self, a: Attachment) -> None:
        await self._conn.execute(insert(attachment).values(
            id=a.id, org_id=a.org_id, conversation_id=a.conversation_id, uploader_id=a.uploader_id,
            entry_id=a.entry_id, created_at=a.created_at, kind=a.kind.value, mime=a.mime, size=a.size,
            uploaded_size=a.uploaded_size, width=a.width, height=a.height, name_sealed=a.name_sealed,
            content_address=a.content_address, thumbnail_address=a.thumbnail_address,
            original_address=a.original_address, dedup_tag=a.dedup_tag, deduplicated=a.deduplicated,
            origin=a.origin.value, duration_ms=a.duration_ms))

    async def add_blob(self, b: StoredBlob) -> None:
        await self._conn.execute(insert(attachment_blob).values(
            conversation_id=b.conversation_id, address=b.address, org_id=b.org_id, owner_id=b.owner_id,
            kind=b.kind.value, variant=b.variant.value, size=b.size, created_at=b.created_at))

    async def blob_exists(self, conversation_id: uuid.UUID, address: bytes) -> bool:
        row = (await self._conn.execute(select(attachment_blob.c.size).where(
            attachment_blob.c.conversation_id == conversation_id, attachment_blob.c.address == address))).first()
        return row is not None

    async def attach(self, conversation_id: uuid.UUID, ids: Sequence[uuid.UUID], entry_id: uuid.UUID) -> None:
        await self._conn.execute(update(attachment).where(
            attachment.c.conversation_id == conversation_id, attachment.c.id.in_(list(ids)),
            attachment.c.entry_id.is_(None)).values(entry_id=entry_id))

    async def delete(self, conversation_id: uuid.UUID, ids: Sequence[uuid.UUID]) -> None:
        await self._conn.execute(delete(attachment).where(attachment.c.conversation_id == conversation_id,
                                                          attachment.c.id.in_(list(ids))))

    async def release_blob(self, conversation_id: uuid.UUID, address: bytes) -> bool:
        """After attachments were deleted: forget the stored file if nothing references it any
        more (returns True: the caller deletes the file), or hand it to a remaining uploader."""
        refs = (await self._conn.execute(
            select(attachment.c.id, attachment.c.uploader_id).where(
                attachment.c.conversation_id == conversation_id,
                (attachment.c.content_address == address) | (attachment.c.thumbnail_address == address)
                | (attachment.c.original_address == address)).order_by(attachment.c.created_at))).all()
        if not refs:
            await self._conn.execute(delete(attachment_blob).where(
                attachment_blob.c.conversation_id == conversation_id, attachment_blob.c.address == address))
            return True
        first_id, first_uploader = refs[0]
        await self._conn.execute(update(attachment_blob).where(
            attachment_blob.c.conversation_id == conversation_id, attachment_blob.c.address == address)
            .values(owner_id=first_uploader))
        await self._conn.execute(update(attachment).where(attachment.c.id == first_id)
                                 .values(deduplicated=False))
        return False

    # --- reading ---------------------------------------------------------------------------
    async def get(self, org_id: uuid.UUID, attachment_id: uuid.UUID) -> Attachment | None:
        row = (await self._conn.execute(select(attachment).where(
            attachment.c.org_id == org_id, attachment.c.id == attachment_id))).first()
        return _attachment(row) if row else None

    async def many(self, conversation_id: uuid.UUID, ids: Sequence[uuid.UUID]) -> list[Attachment]:
        rows = await self._conn.execute(select(attachment).where(
            attachment.c.conversation_id == conversation_id, attachment.c.id.in_(list(ids))))
        return [_attachment(r) for r in rows]

    async def count_in(self, conversation_id: uuid.UUID) -> int:
        return int((await self._conn.execute(select(func.count()).select_from(attachment).where(
            attachment.c.conversation_id == conversation_id))).scalar_one())

    async def all_in(self, conversation_id: uuid.UUID) -> list[Attachment]:
        rows = await self._conn.execute(select(attachment).where(attachment.c.conversation_id == conversation_id))
        return [_attachment(r) for r in rows]

    async def created_before(self, conversation_id: uuid.UUID, cutoff: datetime) -> list[Attachment]:
        """Attachments of messages created before ``cutoff``, and uploads never sent from then."""
        sent_before = select(entry.c.id).where(entry.c.conversation_id == conversation_id,
                                               entry.c.created_at < cutoff)
        rows = await self._conn.execute(select(attachment).where(
            attachment.c.conversation_id == conversation_id,
            attachment.c.entry_id.in_(sent_before)
            | (attachment.c.entry_id.is_(None) & (attachment.c.created_at < cutoff))))
        return [_attachment(r) for r in rows]

    async def pending_before(self, cutoff: datetime, limit: int = 1000) -> list[Attachment]:
        """Uploads never sent with a message, older than ``cutoff`` (all organisations)."""
        rows = await self._conn.execute(select(attachment).where(
            attachment.c.entry_id.is_(None), attachment.c.created_at < cutoff)
            .order_by(attachment.c.created_at).limit(limit))
        return [_attachment(r) for r in rows]

    async def by_dedup_tag(self, conversation_id: uuid.UUID, tag: bytes) -> Attachment | None:
        row = (await self._conn.execute(select(attachment).where(
            attachment.c.conversation_id == conversation_id, attachment.c.dedup_tag == tag)
            .order_by(attachment.c.created_at).limit(1))).first()
        return _attachment(row) if row else None

    async def for_entries(self, conversation_id: uuid.UUID, entry_ids: Sequence[uuid.UUID]) -> list[Attachment]:
        if not entry_ids:
            return []
        rows = await self._conn.execute(select(attachment).where(
            attachment.c.conversation_id == conversation_id, attachment.c.entry_id.in_(list(entry_ids)))
            .order_by(attachment.c.created_at, attachment.c.id))
        return [_attachment(r) for r in rows]

    async def usage(self, org_id: uuid.UUID, person_id: uuid.UUID | None = None) -> int:
        stmt = select(func.coalesce(func.sum(attachment_blob.c.size), 0)).where(attachment_blob.c.org_id == org_id)
        if person_id is not None:
            stmt = stmt.where(attachment_blob.c.owner_id == person_id)
        return int((await self._conn.execute(stmt)).scalar_one())

    async def rules(self, org_id: uuid.UUID) -> AttachmentRules:
        row = (await self._conn.execute(select(attachment_rules).where(attachment_rules.c.org_id == org_id))).first()
        if row is None:
            return AttachmentRules(org_id)
        m = row._mapping
        kinds = frozenset(k for k in str(m["keep_originals_for"]).split(",") if k)
        return AttachmentRules(org_id, m["org_quota_bytes"], m["person_quota_bytes"], kinds)

    async def save_rules(self, r: AttachmentRules) -> None:
        values = {"org_quota_bytes": r.org_quota_bytes, "person_quota_bytes": r.person_quota_bytes,
                  "keep_originals_for": ",".join(sorted(r.keep_originals_for))}
        done = await self._conn.execute(update(attachment_rules).where(attachment_rules.c.org_id == r.org_id)
                                        .values(**values))
        if not done.rowcount:
            await self._conn.execute(insert(attachment_rules).values(org_id=r.org_id, **values))

    async def blob_keys(self) -> list[tuple[uuid.UUID, bytes]]:
        """Every stored file the database knows, all organisations (for the consistency check)."""
        rows = await self._conn.execute(select(attachment_blob.c.conversation_id, attachment_blob.c.address))
        return [(r[0], bytes(r[1])) for r in rows]

    async def blobs_of_conversation(self, conversation_id: uuid.UUID) -> list[bytes]:
        rows = await self._conn.execute(select(attachment_blob.c.address).where(
            attachment_blob.c.conversation_id == conversation_id))
        return [bytes(r[0]) for r in rows]

    async def forget_conversation(self, conversation_id: uuid.UUID) -> None:
        """Delete every attachment row and stored-file row of a conversation (retention, erasure);
        the caller deletes the files once committed."""
        await self._conn.execute(delete(attachment).where(attachment.c.conversation_id == conversation_id))
        await self._conn.execute(delete(attachment_blob).where(attachment_blob.c.conversation_id == conversation_id))

    # --- sobriety sums ---------------------------------------------------------------------
    def _length(self, col: Any) -> Any:
        return func.octet_length(col) if self._pg else func.length(col)

    async def stored_by_kind(self, org_id: uuid.UUID) -> dict[str, int]:
        rows = await self._conn.execute(
            select(attachment_blob.c.kind, func.sum(attachment_blob.c.size))
            .where(attachment_blob.c.org_id == org_id).group_by(attachment_blob.c.kind))
        out = {k: int(v or 0) for k, v in rows}
        text = (await self._conn.execute(
            select(func.coalesce(func.sum(self._length(entry.c.body)), 0))
            .select_from(entry.join(conversation, conversation.c.id == entry.c.conversation_id))
            .where(conversation.c.org_id == org_id))).scalar_one()
        out["text"] = int(text or 0)
        return out

    async def stored_by_team(self, org_id: uuid.UUID) -> dict[uuid.UUID | None, dict[str, int]]:
        """Bytes per team channel (``None``: conversations not tied to a team)."""
        out: dict[uuid.UUID | None, dict[str, int]] = {}
        rows = await self._conn.execute(
            select(conversation.c.team_id, attachment_blob.c.kind, func.sum(attachment_blob.c.size))
            .select_from(attachment_blob.join(conversation, conversation.c.id == attachment_blob.c.conversation_id))
            .where(attachment_blob.c.org_id == org_id).group_by(conversation.c.team_id, attachment_blob.c.kind))
        for team_id, kind, total in rows:
            out.setdefault(team_id, {})[kind] = int(total or 0)
        text_rows = await self._conn.execute(
            select(conversation.c.team_id, func.sum(self._length(entry.c.body)))
            .select_from(entry.join(conversation, conversation.c.id == entry.c.conversation_id))
            .where(conversation.c.org_id == org_id).group_by(conversation.c.team_id))
        for team_id, total in text_rows:
            out.setdefault(team_id, {})["text"] = int(total or 0)
        return out

    async def daily_growth(self, org_id: uuid.UUID) -> dict[str, list[tuple[int, int]]]:
        """(day number since 1970, bytes added that day) per kind, for what is stored now."""
        blob_day = type_coerce(attachment_blob.c.created_at, BigInteger) // MICROS_PER_DAY
        rows = await self._conn.execute(
            select(attachment_blob.c.kind, blob_day, func.sum(attachment_blob.c.size))
            .where(attachment_blob.c.org_id == org_id).group_by(attachment_blob.c.kind, blob_day))
        out: dict[str, list[tuple[int, int]]] = {}
        for kind, day, total in rows:
            out.setdefault(kind, []).append((int(day), int(total or 0)))
        entry_day = type_coerce(entry.c.created_at, BigInteger) // MICROS_PER_DAY
        text_rows = await self._conn.execute(
            select(entry_day, func.sum(self._length(entry.c.body)))
            .select_from(entry.join(conversation, conversation.c.id == entry.c.conversation_id))
            .where(conversation.c.org_id == org_id, entry.c.body.is_not(None)).group_by(entry_day))
        out["text"] = [(int(day), int(total or 0)) for day, total in text_rows]
        return out

    async def savings(self, org_id: uuid.UUID) -> dict[str, int]:
        """What clients sent, what is stored, and what processing and deduplication avoided;
        ``*_delivered`` multiply by the other members of each conversation (an upper bound of
        what recipients download)."""
        others = (select(func.count()).where(member.c.conversation_id == attachment.c.conversation_id)
                  .scalar_subquery() - 1)
        first = attachment.c.deduplicated.is_(False)
        shrink = case((attachment.c.uploaded_size > attachment.c.size,
                       attachment.c.uploaded_size - attachment.c.size), else_=0)
        row = (await self._conn.execute(select(
            func.coalesce(func.sum(case((first, attachment.c.uploaded_size), else_=0)), 0),
            func.coalesce(func.sum(case((first & attachment.c.original_address.is_(None), shrink), else_=0)), 0),
            func.coalesce(func.sum(case((first, 0), else_=attachment.c.size)), 0),
            func.coalesce(func.sum(attachment.c.size * others), 0),
            func.coalesce(func.sum(shrink * others), 0),
            func.count(),
            func.coalesce(func.sum(case((first, 0), else_=1)), 0),
        ).where(attachment.c.org_id == org_id, attachment.c.entry_id.is_not(None)))).one()
        return {"uploaded": int(row[0]), "saved_by_processing": int(row[1]), "saved_by_dedup": int(row[2]),
                "delivered": int(row[3]), "avoided_delivery": int(row[4]), "attachments": int(row[5]),
                "deduplicated": int(row[6])}

    async def orgs_usage(self) -> dict[uuid.UUID, int]:
        """Stored attachment bytes per organisation (the installation operator's view)."""
        rows = await self._conn.execute(select(attachment_blob.c.org_id, func.sum(attachment_blob.c.size))
                                        .group_by(attachment_blob.c.org_id))
        return {r[0]: int(r[1] or 0) for r in rows}

    async def variants(self, org_id: uuid.UUID) -> dict[str, int]:
        rows = await self._conn.execute(select(attachment_blob.c.variant, func.sum(attachment_blob.c.size))
                                        .where(attachment_blob.c.org_id == org_id)
                                        .group_by(attachment_blob.c.variant))
        return {str(Variant(v)): int(t or 0) for v, t in rows}
