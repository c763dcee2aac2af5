"""Tables of the signalement feature. Every row carries ``org_id`` or hangs off a report that
does; narratives, analyses, feedback, action titles and form values are sealed under the
report's own data key (``report_key``, apart so that crypto-shredding is one row)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, ForeignKey, Index, Integer, LargeBinary, String, Table

from chevet.adapters.db.schema import metadata
from chevet.adapters.db.types import UtcTimestamp, Uuid

report = Table(
    "report", metadata,
    Column("id", Uuid, primary_key=True),
    Column("org_id", Uuid, ForeignKey("organisation.id"), nullable=False),
    Column("mode", String(12), nullable=False),
    Column("reporter_id", Uuid, nullable=True),  # named reports only
    Column("status", String(10), nullable=False),
    Column("team_id", Uuid, nullable=True),
    Column("received_at", UtcTimestamp, nullable=False),
    Column("content", LargeBinary, nullable=False),
    Column("severity", String(12), nullable=True),
    Column("categories", String(200), nullable=True),
    Column("eigs", String(60), nullable=True),
    Column("security", String(80), nullable=True),
    Column("gdpr", Boolean, nullable=False, default=False),
    Column("awareness_at", UtcTimestamp, nullable=True),
    Column("qualified_at", UtcTimestamp, nullable=True),
    Column("qualified_by", Uuid, nullable=True),
    Column("note", LargeBinary, nullable=True),
    Column("analysis", LargeBinary, nullable=True),
    Column("feedback", LargeBinary, nullable=True),
    Column("feedback_at", UtcTimestamp, nullable=True),
    Column("closed_at", UtcTimestamp, nullable=True),
    Column("conversation_id", Uuid, nullable=True),
    Column("followup_hash", LargeBinary(32), nullable=True, unique=True),
    Index("ix_report_org_received", "org_id", "received_at"),
)

report_key = Table(
    "report_key", metadata,
    Column("report_id", Uuid, ForeignKey("report.id", ondelete="CASCADE"), primary_key=True),
    Column("wrapped", LargeBinary, nullable=False),
)

report_reader = Table(
    "report_reader", metadata,
    Column("report_id", Uuid, ForeignKey("report.id", ondelete="CASCADE"), primary_key=True),
    Column("person_id", Uuid, ForeignKey("person.id"), primary_key=True),
)

report_form = Table(
    "report_form", metadata,
    Column("report_id", Uuid, ForeignKey("report.id", ondelete="CASCADE"), primary_key=True),
    Column("kind", String(10), primary_key=True),
    Column("content", LargeBinary, nullable=False),
    Column("status", String(10), nullable=False),
    Column("updated_at", UtcTimestamp, nullable=False),
    Column("validated_by", Uuid, nullable=True),
    Column("validated_at", UtcTimestamp, nullable=True),
)

report_submission = Table(
    "report_submission", metadata,
    Column("id", Uuid, primary_key=True),
    Column("report_id", Uuid, ForeignKey("report.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("kind", String(10), nullable=False),
    Column("at", UtcTimestamp, nullable=False),
    Column("channel", String(10), nullable=False),
    Column("reference", String(100), nullable=False),
    Column("recorded_by", Uuid, nullable=False),
)

report_action = Table(
    "report_action", metadata,
    Column("id", Uuid, primary_key=True),
    Column("report_id", Uuid, ForeignKey("report.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("title", LargeBinary, nullable=False),
    Column("owner_id", Uuid, nullable=True),
    Column("due_at", UtcTimestamp, nullable=True),
    Column("done_at", UtcTimestamp, nullable=True),
    Column("created_at", UtcTimestamp, nullable=False),
)

report_designation = Table(
    "report_designation", metadata,
    Column("org_id", Uuid, ForeignKey("organisation.id"), primary_key=True),
    Column("person_id", Uuid, ForeignKey("person.id"), primary_key=True),
    Column("function", String(14), primary_key=True),
)

report_reminder = Table(
    "report_reminder", metadata,
    Column("report_id", Uuid, ForeignKey("report.id", ondelete="CASCADE"), primary_key=True),
    Column("deadline", String(14), primary_key=True),
    Column("stage", String(8), nullable=False),
    Column("sent_at", UtcTimestamp, nullable=False),
)

# Files filed with a report: contents sealed in the blob store under a key derived from the
# report's data key (addressed by keyed hashes), names sealed here. No uploader and no upload
# time: an anonymous or confidential report's files must not designate their reporter.
report_attachment = Table(
    "report_attachment", metadata,
    Column("id", Uuid, primary_key=True),
    Column("report_id", Uuid, nullable=False, index=True),  # deleted by the report's purge
    Column("org_id", Uuid, ForeignKey("organisation.id"), nullable=False),
    Column("position", Integer, nullable=False),
    Column("kind", String(10), nullable=False),
    Column("mime", String(40), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("stored_size", BigInteger, nullable=False),
    Column("width", Integer, nullable=True),
    Column("height", Integer, nullable=True),
    Column("name_sealed", LargeBinary, nullable=True),  # None: no name kept (anonymous report)
    Column("content_address", LargeBinary(32), nullable=False),
)

# The audit entry of an anonymous filing, waiting to enter the organisation's chain: written
# apart by the server's periodic job, so that it is not appended, in the filing's transaction,
# beside the reporter's own latest entries (app/signalement/filing.py, record_anonymous_filings).
report_pending_audit = Table(
    "report_pending_audit", metadata,
    Column("report_id", Uuid, primary_key=True),
    Column("org_id", Uuid, ForeignKey("organisation.id"), nullable=False),
    Column("detail", String(200), nullable=False),
)

# The organisation's retention period per record type (core/signalement/retention.py); a type
# without a row keeps its default.
report_retention = Table(
    "report_retention", metadata,
    Column("org_id", Uuid, ForeignKey("organisation.id"), primary_key=True),
    Column("record_type", String(40), primary_key=True),
    Column("days", Integer, nullable=False),
    Column("updated_at", UtcTimestamp, nullable=False),
)
