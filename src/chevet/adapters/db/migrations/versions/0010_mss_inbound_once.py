"""mss inbound once: a received mail is recorded once per mailbox (unique Message-ID hash), so
that two workers fetching the same mail cannot both integrate it

Revision ID: 0010_mss_inbound_once
Revises: 0008_mss_documents
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from chevet.adapters.db.types import Uuid

revision = "0010_mss_inbound_once"
down_revision = "0008_mss_documents"
branch_labels = None
depends_on = None

_ZERO = b"\0" * 32

_inbound = sa.table("mss_inbound", sa.column("id", Uuid(length=16)), sa.column("org_id", Uuid(length=16)),
                    sa.column("mailbox", sa.String(254)), sa.column("mid_hash", sa.LargeBinary(32)),
                    sa.column("received_at", sa.DateTime()))


def upgrade() -> None:
    conn = op.get_bind()
    rows = conn.execute(sa.select(_inbound.c.id, _inbound.c.org_id, _inbound.c.mailbox, _inbound.c.mid_hash)
                        .order_by(_inbound.c.received_at, _inbound.c.id)).all()
    kept: set[tuple[object, str, bytes]] = set()
    for r in rows:
        if bytes(r.mid_hash) == _ZERO:
            # Mail quarantined before it had an identity (no readable Message-ID) shared one
            # all-zero hash: each such row becomes its own, never equal to a keyed hash.
            conn.execute(sa.update(_inbound).where(_inbound.c.id == r.id)
                         .values(mid_hash=b"\0" * 16 + r.id.bytes))
            continue
        key = (r.org_id, r.mailbox, bytes(r.mid_hash))
        if key in kept:
            # The same mail recorded twice (two workers raced): the earliest record stays.
            conn.execute(sa.delete(_inbound).where(_inbound.c.id == r.id))
        else:
            kept.add(key)
    op.drop_index("ix_mss_inbound_mid", table_name="mss_inbound")
    op.create_index("ix_mss_inbound_mid", "mss_inbound", ["org_id", "mailbox", "mid_hash"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_mss_inbound_mid", table_name="mss_inbound")
    op.create_index("ix_mss_inbound_mid", "mss_inbound", ["org_id", "mailbox", "mid_hash"])
