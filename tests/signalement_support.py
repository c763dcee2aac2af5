"""Helpers for the signalement tests: an EHPAD with its roles, and a whole-database snapshot."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import MetaData, select

from chevet.app.services import Services
from chevet.app.signalement import designations, forms, handling
from chevet.core.entities import Organisation
from tests.support import Member, new_member, new_org


@dataclass
class Ehpad:
    org: Organisation
    admin: Member        # the director (administrator)
    quality: Member      # designated quality lead (a nurse by role)
    carer: Member        # care assistant who reports
    nurse: Member        # a colleague who is not involved


async def ehpad(svc: Services, slug: str | None = None) -> Ehpad:
    org = await new_org(svc, slug)
    admin = await new_member(svc, org, "admin", "Danielle Directrice")
    quality = await new_member(svc, org, "nurse", "Quentin Qualité")
    carer = await new_member(svc, org, "care_assistant", "Aïcha Soignante")
    nurse = await new_member(svc, org, "nurse", "Nora Infirmière")
    await designations.designate(svc, admin.actor, quality.id, "quality_lead", True)
    return Ehpad(org, admin, quality, carer, nurse)


def fall(now: datetime, **extra: Any) -> dict[str, Any]:
    return {"what": "Chute de Mme R. en se levant seule, hématome frontal", "occurred_at": now - timedelta(hours=2),
            "discovered_at": now - timedelta(hours=2) + timedelta(minutes=5), "place": "Chambre 12, unité Les Tilleuls",
            "affected_refs": ["CH12-R"], "immediate_measures": "Relevée, surveillance neurologique, médecin appelé",
            **extra}


async def snapshot(svc: Services) -> dict[str, set[tuple[Any, ...]]]:
    """Every row of every table, as tuples (the schema is reflected, so new tables are included)."""
    engine = svc.db.engine  # type: ignore[attr-defined]
    out: dict[str, set[tuple[Any, ...]]] = {}
    async with engine.connect() as conn:
        meta = MetaData()
        await conn.run_sync(meta.reflect)
        for name, table in meta.tables.items():
            rows = await conn.execute(select(table))
            out[name] = {tuple(r) for r in rows}
    return out


def identity_needles(m: Member) -> list[Any]:
    person = m.actor.person
    return [person.id, person.id.bytes, person.id.hex, str(person.id), person.name, person.email,
            person.name.encode(), person.email.encode()]


def contains(value: Any, needle: Any) -> bool:
    if value is None:
        return False
    if isinstance(needle, uuid.UUID):
        return value == needle
    if isinstance(value, (bytes, bytearray, memoryview)):
        data = bytes(value)
        return isinstance(needle, bytes) and needle in data
    if isinstance(value, str):
        return isinstance(needle, str) and needle in value
    return False


# What the director completes on the ESSMS form beyond what the report pre-fills.
ESSMS_COMPLETION: dict[str, Any] = {
    "structure_finess": "750000001", "structure_address": "1 rue des Lilas, Paris",
    "declarant_name": "Danielle Directrice", "declarant_function": "Directrice",
    "declarant_contact": "01 02 03 04 05", "information_persons": "Fille informée le jour même",
    "cvs_informed": True, "remedial_measures": "Détecteur de lever", "media_coverage": False}


async def validated_essms_form(svc: Services, e: Ehpad, report_id: Any) -> None:
    """Qualify a filed fall as a serious dysfunction and have the director validate its form."""
    await handling.qualify(svc, e.quality.actor, report_id, severity="major", categories=["defaut_soins"])
    form = await forms.get_form(svc, e.quality.actor, report_id, "essms")
    values = {f["key"]: f["value"] for f in form["fields"] if f["value"] is not None}
    await forms.save_form(svc, e.admin.actor, report_id, "essms", values | ESSMS_COMPLETION)
    await forms.validate_form(svc, e.admin.actor, report_id, "essms")
