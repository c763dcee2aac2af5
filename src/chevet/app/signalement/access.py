"""How a report is reached: ``access`` is the one permission-checked way to a report (another
organisation's report, or one the caller may not see, is simply not found), with the report's
key and what the caller's functions let them do. Who sees a report: the quality leads and the
director of its organisation, the people they explicitly add, and a named reporter."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from chevet.app.access import report_functions
from chevet.app.services import Actor, Services, Unit
from chevet.core import envelope
from chevet.core.entities import PersonStatus, RealtimeEvent
from chevet.core.envelope import DataKey
from chevet.core.errors import Forbidden, NotFound
from chevet.core.signalement.records import Report
from chevet.core.signalement.report import (
    Qualification,
    ReportContent,
    ReportFunction,
)
from chevet.core.signalement.taxonomy import ReporterMode
from chevet.ports import Transaction


@dataclass(frozen=True, slots=True)
class ReportAccess:
    report: Report
    key: DataKey
    functions: frozenset[ReportFunction]
    is_reader: bool

    @property
    def manages(self) -> bool:
        return bool(self.functions)

    @property
    def quality_lead(self) -> bool:
        return ReportFunction.QUALITY_LEAD in self.functions

    @property
    def director(self) -> bool:
        return ReportFunction.DIRECTOR in self.functions


def _aad(label: str, report_id: uuid.UUID, *more: uuid.UUID) -> bytes:
    return envelope.aad(label, report_id, *more)


async def new_report_key(services: Services, org_id: uuid.UUID, report_id: uuid.UUID,
                         tx: Transaction) -> tuple[DataKey, bytes]:
    """A new report data key wrapped by its organisation's key, in the report's transaction."""
    key = DataKey(envelope.random_key())
    return key, await wrap_report_key(services, org_id, report_id, key, tx)


async def wrap_report_key(services: Services, org_id: uuid.UUID, report_id: uuid.UUID, key: DataKey,
                          tx: Transaction) -> bytes:
    return await services.org_keys.wrap(org_id, key.material, _aad("rkey", report_id), tx)


async def unwrap_report_key(services: Services, org_id: uuid.UUID, report_id: uuid.UUID, wrapped: bytes) -> DataKey:
    return DataKey(await services.org_keys.unwrap(org_id, wrapped, _aad("rkey", report_id)))


def seal_json(key: DataKey, label: str, report_id: uuid.UUID, value: Any, *more: uuid.UUID) -> bytes:
    return key.seal(orjson.dumps(value), _aad(label, report_id, *more))


def open_json(key: DataKey, label: str, report_id: uuid.UUID, sealed: bytes | None, *more: uuid.UUID) -> Any:
    if sealed is None:
        return None
    return orjson.loads(key.open(sealed, _aad(label, report_id, *more)))

async def managers(tx: Transaction, org_id: uuid.UUID) -> list[uuid.UUID]:
    """Everyone who handles reports in the organisation and can read them now: active designated
    people, administrators and directors (the same people the form's sentence counts)."""
    from chevet.core.roles import Role

    designated = {pid for pid, _ in await tx.reports.designations(org_id)}
    ids = set()
    for p in await tx.people.search(org_id, "", 5000):
        if p.status is PersonStatus.ACTIVE and (p.id in designated or p.role in (Role.ADMIN, Role.DIRECTOR)):
            ids.add(p.id)
    return sorted(ids)


async def access(services: Services, tx: Transaction, actor: Actor, report_id: uuid.UUID) -> ReportAccess:
    r = await tx.reports.get(actor.org_id, report_id)
    if r is None:
        raise NotFound("report_not_found")
    fns = await report_functions(tx, actor)
    reader = await tx.reports.is_reader(r.id, actor.id)
    if not fns and not reader and r.reporter_id != actor.id:
        raise NotFound("report_not_found")
    wrapped = await tx.reports.wrapped_key(r.id)
    if wrapped is None:
        raise NotFound("report_not_found")
    return ReportAccess(r, await unwrap_report_key(services, r.org_id, r.id, wrapped), fns, reader)


def require_manager(a: ReportAccess) -> None:
    if not a.manages:
        raise Forbidden("report_manager_only")


def notify(u: Unit, org_id: uuid.UUID, report_id: uuid.UUID, user_ids: Sequence[uuid.UUID],
            payload: dict[str, Any]) -> None:
    if user_ids:
        u.publish(RealtimeEvent(org_id, report_id, None, payload | {"report_id": str(report_id)},
                                user_ids=tuple(user_ids), private=True))


def content_of(a: ReportAccess) -> ReportContent:
    return ReportContent.from_json(open_json(a.key, "report", a.report.id, a.report.content_sealed))


def qualification_of(a: ReportAccess) -> Qualification | None:
    r = a.report
    if r.severity is None:
        return None
    note = open_json(a.key, "rnote", r.id, r.note_sealed) or ""
    return Qualification(severity=r.severity, categories=r.categories, eigs=r.eigs, security=r.security,
                         gdpr_breach=r.gdpr, awareness_at=r.awareness_at, note=note)


def names_visible(a: ReportAccess) -> bool:
    """File names are shown as the reporter's identity is: a confidential report's only to
    the quality lead (an anonymous report keeps none)."""
    return a.report.mode is ReporterMode.NAMED or (a.report.mode is ReporterMode.CONFIDENTIAL and a.quality_lead)
