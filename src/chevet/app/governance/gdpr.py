"""People's rights and the controller's duties: subject access (Art. 15), anonymisation of a
departed staff member (Art. 17 within the limits of Art. 17(3)), the processing register
(Art. 30) and the breach log with its 72-hour deadline (Art. 33)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import BinaryIO

import orjson
from typing_extensions import TypedDict

from chevet.app.access import require
from chevet.app.archive.archive import BreachRecord, _jsonl, breach_record, person_record, write_tar
from chevet.app.archive.audit import entry_json
from chevet.app.documents import document
from chevet.app.governance import register_texts
from chevet.app.governance.retention import rules
from chevet.app.identity import addresses
from chevet.app.identity.session_policy import require_recent_authentication
from chevet.app.messaging.views import body_of, title_of
from chevet.app.services import Actor, Services
from chevet.core import breach as breach_rules
from chevet.core.breach import Breach
from chevet.core.entities import Organisation, PersonStatus
from chevet.core.errors import InvalidInput, NotFound
from chevet.core.ids import new_id
from chevet.core.message import MessageFlag
from chevet.core.roles import Permission
from chevet.core.sealed_archive import SealedWriter

_ACCESS_HTML = document("""<!doctype html>
<html lang="fr"><head><meta charset="utf-8"><title>Vos données — {{ p.name }}</title></head><body>
<h1>Vos données dans Chevet ({{ org.name }})</h1>
<p>Export du {{ at }} au titre de l'article 15 du RGPD. <span lang="en">Subject access export.</span></p>
<h2>Profil</h2><ul><li>Nom : {{ p.name }}</li><li>Courriel : {{ p.email }}</li><li>Rôle : {{ p.role }}</li>
<li>RPPS : {{ p.rpps or "—" }}</li><li>Compte créé le {{ p.created_at }}</li></ul>
<h2>Conversations ({{ memberships|length }})</h2><ul>
{% for m in memberships %}<li>{{ m.title or m.kind }} — membre depuis le {{ m.joined_at }}</li>{% endfor %}</ul>
<h2>Messages écrits ({{ messages|length }})</h2><ol>
{% for m in messages %}<li>{{ m.created_at }} — {{ m.conversation_title }} : {{ m.body }}</li>{% endfor %}</ol>
<h2>Traces d'accès et d'actions ({{ traces|length }})</h2><ol>
{% for t in traces %}<li>{{ t.at }} — {{ t.action }}</li>{% endfor %}</ol>
</body></html>
""")


class MembershipRecord(TypedDict):
    record: str
    conversation_id: str
    kind: str
    title: str
    joined_at: str
    read_seq: int


class AuthoredRecord(TypedDict):
    record: str
    conversation_id: str
    seq: int
    created_at: str
    body: str | None
    conversation_title: str
    edited_at: str | None


class SubjectAccessView(TypedDict):
    """Art. 15: everything Chevet holds about a person (``profile`` and ``traces`` are the
    archive's person and audit records)."""

    generated_at: str
    organisation: str
    profile: dict[str, object]
    memberships: list[MembershipRecord]
    messages: list[AuthoredRecord]
    traces: list[dict[str, object]]


async def subject_access_data(services: Services, org: Organisation, person_id: uuid.UUID, *,
                              actor: Actor | None = None) -> SubjectAccessView:
    """Everything about one person, and nothing about anybody else: profile, memberships,
    messages they wrote (their own words), and the audit entries about them or by them.
    The DPO (view_audit) may ask for anyone of the organisation; anyone may ask for themself."""
    if actor is not None and actor.id != person_id:
        require(actor, Permission.VIEW_AUDIT)
    now = services.clock.now()
    async with services.unit(actor.ip if actor else None) as u:
        person = await u.tx.people.get(org.id, person_id)
        if person is None:
            raise NotFound("person_not_found")
        if actor is not None:  # an export of everything about a person
            await require_recent_authentication(services, actor, u.tx)
        memberships: list[MembershipRecord] = []
        for m in await u.tx.archive.memberships_of(org.id, person_id):
            conv = await u.tx.conversations.get(org.id, m.conversation_id)
            wrapped = await u.tx.conversations.wrapped_key(m.conversation_id)
            if conv is None or wrapped is None:
                continue
            k = await services.unwrap_key(conv.org_id, conv.id, wrapped)
            memberships.append({"record": "membership", "conversation_id": str(conv.id), "kind": conv.kind.value,
                                "title": title_of(conv, k) if conv.kind.value != "direct" else "",
                                "joined_at": m.joined_at.isoformat(), "read_seq": m.read_seq})
        messages: list[AuthoredRecord] = []
        titles: dict[uuid.UUID, str] = {}
        for e in await u.tx.archive.authored(org.id, person_id):
            conv = await u.tx.conversations.get(org.id, e.conversation_id)
            wrapped = await u.tx.conversations.wrapped_key(e.conversation_id)
            if conv is None or wrapped is None:
                continue
            k = await services.unwrap_key(conv.org_id, conv.id, wrapped)
            titles.setdefault(conv.id, title_of(conv, k) if conv.kind.value != "direct" else "")
            messages.append({"record": "message", "conversation_id": str(conv.id), "seq": e.seq,
                             "created_at": e.created_at.isoformat(),
                             "body": None if e.flags & MessageFlag.DELETED else body_of(conv.id, k, e),
                             "conversation_title": titles[conv.id], "edited_at": e.edited_at.isoformat()
                             if e.edited_at else None})
        traces: list[dict[str, object]] = []
        before: int | None = None
        while batch := await u.tx.audit_trail.search(org.id, about_id=person_id, before_seq=before, limit=1000):
            # Another person's address is their data, not the subject's: kept only for the
            # subject's own actions.
            keys = await addresses.keys_for(services, u.tx, org.id, [e for e in batch if e.actor_id == person_id])
            traces += [entry_json(e) | {"ip": addresses.recorded(e, keys) if e.actor_id == person_id else None,
                                        "detail": addresses.without_address(e.detail)} for e in batch]
            before = batch[-1].seq
        await u.audit(org.id, "gdpr.access_exported", actor.id if actor else None, "person", person_id,
                      messages=len(messages), traces=len(traces))
    return {"generated_at": now.isoformat(), "organisation": org.name, "profile": person_record(person),
            "memberships": memberships, "messages": messages, "traces": traces}


async def subject_access(services: Services, org: Organisation, person_id: uuid.UUID, out: BinaryIO,
                         header: bytes, key: bytes, *, actor: Actor | None = None) -> dict[str, int]:
    """The subject access archive: readable index.html plus JSON, sealed like every export."""
    data = await subject_access_data(services, org, person_id, actor=actor)
    now = services.clock.now()
    profile, memberships, messages, traces = data["profile"], data["memberships"], data["messages"], data["traces"]
    files = {
        "index.html": _ACCESS_HTML.render(p=profile, org={"name": org.name}, at=now.isoformat(),
                                          memberships=memberships, messages=messages, traces=traces).encode(),
        "profile.json": orjson.dumps(profile, option=orjson.OPT_INDENT_2),
        "memberships.jsonl": _jsonl(memberships),
        "messages.jsonl": _jsonl(messages),
        "traces.jsonl": _jsonl(traces),
    }
    writer = SealedWriter(out, header, key)
    write_tar(files, writer, now.timestamp())  # type: ignore[arg-type]
    writer.close()
    return {"memberships": len(memberships), "messages": len(messages), "traces": len(traces)}


async def anonymise(services: Services, actor: Actor | None, org: Organisation, person_id: uuid.UUID) -> str:
    """A departed staff member's identity goes (name, e-mail, RPPS, credentials, team places);
    the care content they wrote stays for the team, attributed to a pseudonym. Only a
    deactivated account can be anonymised, and not reversibly."""
    require(actor, Permission.MANAGE_PEOPLE)
    async with services.unit(actor.ip if actor else None) as u:
        person = await u.tx.people.get(org.id, person_id)
        if person is None:
            raise NotFound("person_not_found")
        if person.status is not PersonStatus.DEACTIVATED:
            raise InvalidInput("anonymise_needs_deactivated")
        if actor is not None:
            await require_recent_authentication(services, actor, u.tx)
        pseudonym = f"Ancien membre {person_id.hex[:6]}"
        await u.tx.archive.anonymise_person(org.id, person_id, name=pseudonym,
                                            email=f"anonyme-{person_id.hex}@anonyme.invalid")
        await u.audit(org.id, "gdpr.person_anonymised", actor.id if actor else None, "person", person_id)
    return pseudonym


_REGISTER_HTML = document("""<!doctype html>
<html lang="fr"><head><meta charset="utf-8"><title>Registre des traitements — {{ r.organisation }}</title></head>
<body><h1>Registre des activités de traitement (art. 30 RGPD)</h1>
<p>{{ r.organisation }} — généré le {{ r.generated_at }} par Chevet.</p>
<dl>
<dt>Responsable du traitement</dt><dd>{{ r.controller }}</dd>
<dt>Délégué à la protection des données</dt><dd>{{ r.dpo_contact }}</dd>
<dt>Finalités</dt><dd><ul>{% for f in r.purposes %}<li>{{ f }}</li>{% endfor %}</ul></dd>
<dt>Catégories de personnes</dt><dd><ul>{% for f in r.data_subjects %}<li>{{ f }}</li>{% endfor %}</ul></dd>
<dt>Catégories de données</dt><dd><ul>{% for f in r.data_categories %}<li>{{ f }}</li>{% endfor %}</ul></dd>
<dt>Destinataires</dt><dd><ul>{% for f in r.recipients %}<li>{{ f }}</li>{% endfor %}</ul></dd>
<dt>Transferts hors UE</dt><dd>{{ r.transfers_outside_eu }}</dd>
<dt>Hébergement</dt><dd>{{ r.hosting.provider }} — {{ r.hosting.location }}</dd>
<dt>Durées de conservation</dt><dd><ul>{% for k in r.retention %}<li>{{ k.label }} : {{ k.days }} jours
({{ k.rationale }})</li>{% endfor %}<li>Journal d'audit : {{ r.audit_retention_days }} jours</li></ul></dd>
<dt>Mesures de sécurité</dt><dd><ul>{% for f in r.security_measures %}<li>{{ f }}</li>{% endfor %}</ul></dd>
</dl></body></html>
""")


class HostingView(TypedDict):
    provider: str
    location: str
    backups: str


class KeptView(TypedDict):
    kind: str
    label: str
    days: int
    rationale: str


class RegisterView(TypedDict):
    """The Art. 30 record of processing activities."""

    organisation: str
    generated_at: str
    controller: str
    dpo_contact: str
    purposes: list[str]
    legal_basis: str
    data_subjects: list[str]
    data_categories: list[str]
    recipients: list[str]
    transfers_outside_eu: str
    hosting: HostingView
    retention: list[KeptView]
    audit_retention_days: int
    security_measures: list[str]


async def processing_register(services: Services, actor: Actor | None, org: Organisation,
                              lang: str = "fr") -> RegisterView:
    """The Art. 30 record, generated from the installation's configuration and the
    organisation's retention rules, so that it never disagrees with what Chevet does; every
    text in the reader's language (French unless English is asked for)."""
    require(actor, Permission.VIEW_AUDIT)
    g, w = services.governance, register_texts.texts(lang)
    async with services.db.transaction() as tx:
        org_rules = await rules(tx, org.id)

    def given(value: str, setting: str) -> str:
        return value or w["missing"].format(setting=setting)

    return {
        "organisation": org.name, "generated_at": services.clock.now().isoformat(),
        "controller": g.controller or org.name, "dpo_contact": given(g.dpo_contact, "dpo_contact"),
        "purposes": [w["purpose.care"], w["purpose.handover"], w["purpose.traces"]],
        "legal_basis": w["legal_basis"],
        "data_subjects": [w["subjects.staff"], w["subjects.patients"]],
        "data_categories": [w["data.identity"], w["data.messages"], w["data.logs"]],
        "recipients": [w["recipients.members"], w["recipients.traces"],
                       w["recipients.hosting"].format(provider=given(g.hosting_provider, "hosting_provider")),
                       *([w["recipients.push"].format(services=", ".join(g.push_services))]
                         if g.push_services else [])],
        "transfers_outside_eu": w["transfers.push"] if g.push_services else w["transfers.none"],
        "hosting": {"provider": given(g.hosting_provider, "hosting_provider"), "location": g.hosting_location,
                    "backups": given(g.backup_location, "backup_location")},
        "retention": [{"kind": r.kind.value, "label": w[f"kind.{r.kind.value}"], "days": r.days,
                       "rationale": w[f"why.{r.kind.value}"]} for r in org_rules.values()],
        "audit_retention_days": g.audit_retention_days,
        "security_measures": [w[f"security.{k}"] for k in ("auth", "encryption", "shredding", "audit", "isolation",
                                                           "third_party")],
    }


def register_html(register: RegisterView) -> str:
    return _REGISTER_HTML.render(r=register)


class BreachView(BreachRecord):
    """A breach of the log, with its 72-hour notification deadline."""

    deadline: str
    overdue: bool
    hours_left: float | None


def breach_view(b: Breach, now: datetime) -> BreachView:
    return {**breach_record(b), "deadline": b.deadline.isoformat(), "overdue": b.overdue(now),
            "hours_left": b.hours_left(now)}


async def record_breach(services: Services, actor: Actor, *, discovered_at: datetime, nature: str,
                        data_categories: str, people_affected: int | None, consequences: str,
                        measures: str, records_affected: int | None = None) -> BreachView:
    require(actor, Permission.MANAGE_RETENTION)
    now = services.clock.now()
    if discovered_at.tzinfo is None or discovered_at > now:
        raise InvalidInput("breach_discovered_invalid")
    for name, count in (("people_affected", people_affected), ("records_affected", records_affected)):
        if count is not None and count < 0:
            raise InvalidInput("breach_field_invalid", field=name)
    b = Breach(new_id(), actor.org_id, discovered_at, now, actor.id, breach_rules.clean_text(nature, "nature"),
               breach_rules.clean_text(data_categories, "data_categories"), people_affected,
               breach_rules.clean_text(consequences, "consequences", required=False),
               breach_rules.clean_text(measures, "measures", required=False), None, None, None,
               records_affected=records_affected)
    async with services.unit(actor.ip) as u:
        await u.tx.breaches.add(b)
        await u.audit(actor.org_id, "breach.recorded", actor.id, "breach", b.id)
    return breach_view(b, now)


async def update_breach(services: Services, actor: Actor, breach_id: uuid.UUID, *,
                        authority_notified: bool = False, people_notified: bool = False, close: bool = False,
                        measures: str | None = None, late_reason: str | None = None) -> BreachView:
    """Record the notification to the CNIL and to the people, the measures, the closing. A
    notification to the CNIL after 72 hours states the reasons for the delay (Art. 33(1))."""
    require(actor, Permission.MANAGE_RETENTION)
    from dataclasses import replace

    now = services.clock.now()
    async with services.unit(actor.ip) as u:
        b = await u.tx.breaches.get(actor.org_id, breach_id)
        if b is None:
            raise NotFound("breach_not_found")
        reason = breach_rules.clean_text(late_reason, "late_reason", required=False) if late_reason else b.late_reason
        if authority_notified and b.authority_notified_at is None and b.overdue(now) and not reason:
            raise InvalidInput("breach_late_reason_required")
        b = replace(b, late_reason=reason)
        b = replace(b, authority_notified_at=b.authority_notified_at or (now if authority_notified else None),
                    people_notified_at=b.people_notified_at or (now if people_notified else None),
                    closed_at=b.closed_at or (now if close else None),
                    measures=breach_rules.clean_text(measures, "measures", required=False)
                    if measures is not None else b.measures)
        await u.tx.breaches.save(b)
        await u.audit(actor.org_id, "breach.updated", actor.id, "breach", b.id, authority=authority_notified,
                      people=people_notified, closed=close)
    return breach_view(b, now)


async def breaches(services: Services, actor: Actor) -> list[BreachView]:
    require(actor, Permission.VIEW_AUDIT)
    now = services.clock.now()
    async with services.db.transaction() as tx:
        return [breach_view(b, now) for b in await tx.breaches.all(actor.org_id)]
