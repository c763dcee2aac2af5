"""The authorization matrix: every API operation × every role × own / other organisation.

The operations come from the application's own route table (its OpenAPI description), so a new
endpoint that nobody classified here fails the test instead of escaping it. For each operation:
without a session → 401 (unless public); a role lacking the permission → 403; a role having it
→ neither 401 nor 403; another organisation's object in the path → 404, exactly as if it did
not exist; and no answer ever carries another organisation's identifiers."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from chevet.app.attachments import resumable
from chevet.app.attachments import upload as attachments
from chevet.app.identity import auth
from chevet.app.messaging import conversations, messages, teams
from chevet.app.services import Actor
from chevet.app.signalement import filing
from chevet.app.signalement.files import IncomingFile
from chevet.bootstrap import Installation
from chevet.core.roles import Permission, Role, can
from chevet.core.signalement.deadlines import FormKind
from chevet.web.app import create_app
from tests.support import new_member, new_org

PUBLIC, MEMBER = "public", "member"
OBJECT_PARAMS = ("conversation_id", "person_id", "team_id", "message_id", "session_id", "attachment_id",
                 "report_id", "upload_id", "alert_id")
Ctx = dict[str, Any]
FORM_KIND = next(iter(FormKind)).value


@dataclass(frozen=True)
class Rule:
    access: str  # PUBLIC, MEMBER or a Permission value
    body: Callable[[Ctx], Any] | None = None
    query: dict[str, str] = field(default_factory=dict)
    upload: bool = False  # multipart/form-data with one small text file
    params: dict[str, str] = field(default_factory=dict)  # path values specific to this operation


def _conv(c: Ctx) -> dict[str, Any]:
    return {"kind": "group", "title": "Équipe de nuit", "member_ids": [c["peer"]]}


MATRIX: dict[str, Rule] = {
    "POST /api/v1/auth/login": Rule(PUBLIC, lambda c: {"email": "a@b.example", "password": "x" * 12, "otp": "1"}),
    "POST /api/v1/auth/logout": Rule(MEMBER),
    "GET /api/v1/auth/sessions": Rule(MEMBER),
    "DELETE /api/v1/auth/sessions/{session_id}": Rule(MEMBER),
    "GET /api/v1/invitations/{token}": Rule(PUBLIC),
    "POST /api/v1/invitations/{token}/accept": Rule(PUBLIC, lambda c: {"password": "x" * 12}),
    "POST /api/v1/invitations/{token}/confirm": Rule(PUBLIC, lambda c: {"otp": "123456"}),
    "GET /api/v1/me": Rule(MEMBER),
    "GET /api/v1/conversations": Rule(MEMBER),
    "POST /api/v1/conversations": Rule(Permission.CREATE_GROUP.value, _conv),
    "GET /api/v1/conversations/{conversation_id}": Rule(MEMBER),
    "POST /api/v1/conversations/{conversation_id}/members": Rule(
        MEMBER, lambda c: {"person_id": c["peer"], "share_history": True}),
    "DELETE /api/v1/conversations/{conversation_id}/members/{person_id}": Rule(MEMBER),
    "POST /api/v1/conversations/{conversation_id}/messages": Rule(
        MEMBER, lambda c: {"body": "Relève faite", "client_id": uuid.uuid4().hex}),
    "GET /api/v1/conversations/{conversation_id}/messages": Rule(MEMBER),
    "PATCH /api/v1/conversations/{conversation_id}/messages/{message_id}": Rule(MEMBER, lambda c: {"body": "Corrigé"}),
    "DELETE /api/v1/conversations/{conversation_id}/messages/{message_id}": Rule(MEMBER),
    "POST /api/v1/conversations/{conversation_id}/read": Rule(MEMBER, lambda c: {"seq": 1}),
    "GET /api/v1/search": Rule(MEMBER, query={"q": "relève"}),
    "GET /api/v1/alerts/{alert_id}": Rule(MEMBER),
    "POST /api/v1/alerts/{alert_id}/acknowledge": Rule(MEMBER, lambda c: {"ack": "seen"}),
    "POST /api/v1/auth/reauthenticate": Rule(MEMBER, lambda c: {"password": "x" * 12, "otp": "123456"}),
    "POST /api/v1/auth/sessions/revoke-all": Rule(MEMBER, lambda c: {"keep_current": True}),
    "GET /api/v1/organisation/session-policy": Rule(MEMBER),
    "PUT /api/v1/organisation/session-policy": Rule(
        Permission.MANAGE_ORGANISATION.value,
        lambda c: {"idle_minutes": 30, "absolute_minutes": 720, "reauth_minutes": 10}),
    "GET /api/v1/auth/passkeys": Rule(MEMBER),
    "POST /api/v1/auth/passkeys": Rule(MEMBER, lambda c: {"challenge_id": str(uuid.uuid4()), "name": "clé",
                                                          "credential": {"id": "AA", "rawId": "AA"}}),
    "POST /api/v1/auth/passkeys/options": Rule(MEMBER, lambda c: {}),
    "DELETE /api/v1/auth/passkeys/{passkey_id}": Rule(MEMBER),
    "POST /api/v1/auth/passkey/login/options": Rule(PUBLIC, lambda c: {}),
    "POST /api/v1/auth/passkey/login": Rule(PUBLIC, lambda c: {"challenge_id": str(uuid.uuid4()),
                                                               "credential": {"id": "AA", "rawId": "AA"}}),
    "POST /api/v1/auth/passkey/reauth/options": Rule(MEMBER, lambda c: {}),
    "POST /api/v1/auth/passkey/reauth": Rule(MEMBER, lambda c: {"challenge_id": str(uuid.uuid4()),
                                                                "credential": {"id": "AA", "rawId": "AA"}}),
    "GET /api/v1/auth/recovery-codes": Rule(MEMBER),
    "POST /api/v1/auth/recovery-codes": Rule(MEMBER, lambda c: {}),
    "GET /api/v1/auth/psc": Rule(PUBLIC),
    "GET /api/v1/auth/psc/authorize": Rule(PUBLIC),
    "POST /api/v1/auth/psc/session": Rule(PUBLIC, lambda c: {"code": "c", "state": "s", "flow": "f"}),
    "POST /api/v1/auth/psc/backchannel-logout": Rule(PUBLIC),
    "GET /api/v1/users": Rule(Permission.LIST_PEOPLE.value),
    "POST /api/v1/users/invitations": Rule(
        Permission.MANAGE_PEOPLE.value,
        lambda c: {"email": f"{uuid.uuid4().hex[:8]}@invite.example", "name": "Nouvelle", "role": "nurse"}),
    "PUT /api/v1/users/{person_id}/role": Rule(Permission.MANAGE_PEOPLE.value, lambda c: {"role": "nurse"}),
    "POST /api/v1/users/{person_id}/deactivate": Rule(Permission.MANAGE_PEOPLE.value),
    "GET /api/v1/teams": Rule(MEMBER),
    "POST /api/v1/teams": Rule(Permission.MANAGE_TEAMS.value,
                               lambda c: {"name": f"Équipe {uuid.uuid4().hex[:6]}", "member_ids": [c["peer"]]}),
    "POST /api/v1/teams/{team_id}/members": Rule(Permission.MANAGE_TEAMS.value, lambda c: {"person_id": c["peer"]}),
    "DELETE /api/v1/teams/{team_id}/members/{person_id}": Rule(Permission.MANAGE_TEAMS.value),
    "GET /api/v1/attachments/limits": Rule(MEMBER),
    "POST /api/v1/conversations/{conversation_id}/attachments": Rule(MEMBER, upload=True),
    "GET /api/v1/attachments/{attachment_id}": Rule(MEMBER),
    "GET /api/v1/attachments/{attachment_id}/thumbnail": Rule(MEMBER),
    "DELETE /api/v1/attachments/{attachment_id}": Rule(MEMBER),
    "POST /api/v1/conversations/{conversation_id}/uploads": Rule(MEMBER, lambda c: {"size": 10, "name": "n.txt"}),
    "GET /api/v1/uploads/{upload_id}": Rule(MEMBER),
    "PATCH /api/v1/uploads/{upload_id}": Rule(MEMBER),
    "DELETE /api/v1/uploads/{upload_id}": Rule(MEMBER),
    "GET /api/v1/admin/attachments/rules": Rule(Permission.MANAGE_ORGANISATION.value),
    "PUT /api/v1/admin/attachments/rules": Rule(
        Permission.MANAGE_ORGANISATION.value,
        lambda c: {"org_quota_bytes": None, "person_quota_bytes": None, "keep_originals_for": []}),
    "GET /api/v1/admin/sobriety": Rule(Permission.VIEW_SOBRIETY.value),
    "GET /api/v1/admin/sobriety.csv": Rule(Permission.VIEW_SOBRIETY.value),
    "GET /api/v1/admin/sobriety/growth.svg": Rule(Permission.VIEW_SOBRIETY.value),
    "GET /healthz": Rule(PUBLIC),
    "GET /readyz": Rule(PUBLIC),
    # Signalement: access to a report is decided per report (quality lead, director, readers,
    # a named reporter), so these are MEMBER here; another organisation's report must look absent.
    "POST /api/v1/reports": Rule(MEMBER, lambda c: {
        "mode": "named", "what": "Chute dans le couloir", "occurred_at": "2026-11-27T03:10:00+01:00",
        "place": "Couloir B"}),
    "GET /api/v1/reports": Rule(MEMBER),
    "POST /api/v1/reports/followup": Rule(PUBLIC, lambda c: {"code": "x" * 20}),
    "GET /api/v1/reports/deadlines": Rule(MEMBER),
    "GET /api/v1/reports/functions": Rule(MEMBER),
    "PUT /api/v1/reports/designations": Rule(MEMBER, lambda c: {"person_id": c["peer"], "function": "quality_lead",
                                                               "on": True}),
    "GET /api/v1/reports/statistics": Rule(MEMBER),
    "GET /api/v1/reports/statistics.csv": Rule(MEMBER),
    "GET /api/v1/reports/{report_id}": Rule(MEMBER),
    "POST /api/v1/reports/with-files": Rule(MEMBER, upload=True),
    "GET /api/v1/reports/{report_id}/files/{file_id}": Rule(MEMBER),
    "POST /api/v1/reports/{report_id}/qualification": Rule(MEMBER, lambda c: {"severity": "moderate"}),
    "POST /api/v1/reports/{report_id}/readers": Rule(MEMBER, lambda c: {"person_id": c["peer"]}),
    "DELETE /api/v1/reports/{report_id}/readers/{person_id}": Rule(MEMBER),
    "PUT /api/v1/reports/{report_id}/analysis": Rule(MEMBER, lambda c: {"method": "CREX",
                                                                       "root_causes": "Sol glissant"}),
    "POST /api/v1/reports/{report_id}/actions": Rule(MEMBER, lambda c: {"title": "Barre d'appui"}),
    "POST /api/v1/reports/{report_id}/actions/{action_id}/done": Rule(MEMBER),
    "DELETE /api/v1/reports/{report_id}/actions/{action_id}/done": Rule(MEMBER),
    "PUT /api/v1/reports/{report_id}/feedback": Rule(MEMBER, lambda c: {"text": "Merci, c'est traité."}),
    "POST /api/v1/reports/{report_id}/close": Rule(MEMBER),
    "POST /api/v1/reports/{report_id}/discussion": Rule(MEMBER, lambda c: {"member_ids": [c["peer"]]}),
    "GET /api/v1/reports/{report_id}/forms/{kind}": Rule(MEMBER),
    "PUT /api/v1/reports/{report_id}/forms/{kind}": Rule(MEMBER, lambda c: {"values": {}}),
    "POST /api/v1/reports/{report_id}/forms/{kind}/validate": Rule(MEMBER),
    "GET /api/v1/reports/{report_id}/forms/{kind}/export": Rule(MEMBER, query={"format": "json"}),
    # Governance
    "GET /api/v1/audit/traces": Rule(Permission.VIEW_AUDIT.value),
    "GET /api/v1/audit/public-key": Rule(Permission.VIEW_AUDIT.value),
    "GET /api/v1/retention/policies": Rule(MEMBER),
    "GET /api/v1/retention/reports": Rule(MEMBER),
    "PUT /api/v1/retention/reports/{record_type}": Rule(Permission.MANAGE_RETENTION.value, lambda c: {"days": 3650},
                                                        params={"record_type": "signalement.eigs"}),
    "PUT /api/v1/retention/policies/{kind}": Rule(Permission.MANAGE_RETENTION.value,
                                                   lambda c: {"days": 90, "min_days": 30, "max_days": 365},
                                                   params={"kind": "team"}),
    "GET /api/v1/retention/expiring": Rule(MEMBER),
    "GET /api/v1/conversations/{conversation_id}/retention": Rule(MEMBER),
    "PUT /api/v1/conversations/{conversation_id}/retention": Rule(MEMBER, lambda c: {"days": 60}),
    "POST /api/v1/conversations/{conversation_id}/close": Rule(MEMBER),
    "POST /api/v1/conversations/{conversation_id}/reopen": Rule(MEMBER),
    "PUT /api/v1/conversations/{conversation_id}/legal-hold": Rule(Permission.MANAGE_RETENTION.value,
                                                                    lambda c: {"hold": False}),
    "GET /api/v1/me/data": Rule(MEMBER),
    "GET /api/v1/gdpr/people/{person_id}/data": Rule(Permission.VIEW_AUDIT.value),
    "POST /api/v1/gdpr/people/{person_id}/anonymise": Rule(Permission.MANAGE_PEOPLE.value),
    "GET /api/v1/gdpr/register": Rule(Permission.VIEW_AUDIT.value),
    "GET /api/v1/gdpr/breaches": Rule(Permission.VIEW_AUDIT.value),
    "POST /api/v1/gdpr/breaches": Rule(Permission.MANAGE_RETENTION.value, lambda c: {
        "discovered_at": "2026-11-27T08:00:00+01:00", "nature": "Perte d'un téléphone",
        "data_categories": "Messages de soins"}),
    "PATCH /api/v1/gdpr/breaches/{breach_id}": Rule(Permission.MANAGE_RETENTION.value,
                                                     lambda c: {"authority_notified": True},
                                                     params={"breach_id": "00000000-0000-4000-8000-000000000000"}),
    # MSSanté: the gateway is not configured here, so sending answers 422 for everyone; the role
    # check of opening an exchange (create_care_case) is tested with a real gateway in its own suite.
    "GET /api/v1/directory": Rule(MEMBER, query={"q": "martin"}),
    "GET /api/v1/directory/status": Rule(MEMBER),
    "POST /api/v1/mssante/exchanges": Rule(MEMBER, lambda c: {"to": ["dr.martin@medecin.mssante.fr"]}),
    "POST /api/v1/mssante/exchanges/{conversation_id}/messages": Rule(
        MEMBER, lambda c: {"body": "Compte rendu", "client_id": uuid.uuid4().hex}),
    "GET /api/v1/mssante/exchanges/{conversation_id}/messages": Rule(MEMBER),
    "POST /api/v1/mssante/exchanges/{conversation_id}/messages/{message_id}/retry": Rule(MEMBER),
    "POST /api/v1/mssante/exchanges/{conversation_id}/messages/{message_id}/receipt": Rule(
        MEMBER, lambda c: {"send": True}),
    "GET /api/v1/mssante/quarantine": Rule(Permission.MANAGE_ORGANISATION.value),
    "GET /api/v1/mssante/quarantine/{record_id}/raw": Rule(Permission.MANAGE_ORGANISATION.value),
    "POST /api/v1/mssante/quarantine/{record_id}/release": Rule(Permission.MANAGE_ORGANISATION.value),
    "POST /api/v1/reports/{report_id}/forms/{kind}/submissions": Rule(MEMBER, lambda c: {
        "channel": "phone", "at": "2026-11-27T09:00:00+01:00"}),
}


async def _session(installation: Installation, actor: Actor) -> str:
    async with installation.services.unit() as u:
        signed = await auth.start_session(installation.services, u, actor.person, "test", None, "matrix")
    return signed.token


async def _world(installation: Installation) -> tuple[dict[Role, Actor], Ctx, Ctx, set[str]]:
    svc = installation.services
    org_a, org_b = await new_org(svc, "org-a"), await new_org(svc, "org-b")
    actors = {role: (await new_member(svc, org_a, role.value)).actor for role in Role}
    peer = await new_member(svc, org_a, "nurse", "Collègue Cible")
    b_admin, b_nurse = await new_member(svc, org_b, "admin"), await new_member(svc, org_b, "nurse")
    conv_a, _ = await conversations.create_conversation(
        svc, actors[Role.ADMIN], kind="group", title="Tous", member_ids=[a.id for a in actors.values()] + [peer.id])
    msg_a, _ = await messages.send_message(svc, actors[Role.ADMIN], uuid.UUID(conv_a["id"]), body="Bonjour",
                                           client_id="m1")
    conv_b, _ = await conversations.create_conversation(svc, b_admin.actor, kind="group", title="Secret B",
                                                        member_ids=[b_nurse.id])
    msg_b, _ = await messages.send_message(svc, b_admin.actor, uuid.UUID(conv_b["id"]), body="Secret", client_id="b1")
    att_a, _ = await attachments.upload(svc, actors[Role.ADMIN], uuid.UUID(conv_a["id"]), data=b"Note A\n",
                                        name="note-a.txt")
    att_b, _ = await attachments.upload(svc, b_admin.actor, uuid.UUID(conv_b["id"]), data=b"Note B\n",
                                        name="note-secrete-b.txt")
    up_a = await resumable.create(svc, actors[Role.ADMIN], uuid.UUID(conv_a["id"]), size=10, name="n-a.txt")
    up_b = await resumable.create(svc, b_admin.actor, uuid.UUID(conv_b["id"]), size=10, name="n-b.txt")
    team_a = await teams.create_team(svc, actors[Role.ADMIN], "Soins", [peer.id])
    team_b = await teams.create_team(svc, b_admin.actor, "Cuisine B", [b_nurse.id])
    rep_a = await filing.file_report(svc, actors[Role.NURSE], mode="named", what="Chute de nuit",
                                      occurred_at=svc.clock.now(), discovered_at=None, place="Chambre 4",
                                      files=[IncomingFile("constat-a.txt", b"Constat A\n")])
    rep_b = await filing.file_report(svc, b_nurse.actor, mode="named", what="Fugue signalée B",
                                      occurred_at=svc.clock.now(), discovered_at=None, place="Jardin B",
                                      files=[IncomingFile("constat-secret-b.txt", b"Constat B\n")])
    # An urgent alert in each organisation, for someone who is not among the actors.
    await messages.send_message(svc, actors[Role.ADMIN], uuid.UUID(conv_a["id"]), body="Chute chambre 4",
                                client_id="alert-a", urgent=True, alert_for=f"person:{peer.id}")
    await messages.send_message(svc, b_admin.actor, uuid.UUID(conv_b["id"]), body="Secret alerte B",
                                client_id="alert-b", urgent=True, alert_for=f"person:{b_nurse.id}")
    async with svc.db.transaction() as tx:
        file_a = str((await tx.reports.files(rep_a.report_id))[0].id)
        file_b = str((await tx.reports.files(rep_b.report_id))[0].id)
        alert_a = str((await tx.alerts.of_conversation(org_a.id, uuid.UUID(conv_a["id"])))[0].id)
        alert_b = str((await tx.alerts.of_conversation(org_b.id, uuid.UUID(conv_b["id"])))[0].id)
    await _session(installation, b_nurse.actor)
    async with svc.db.transaction() as tx:
        b_session_id = str((await tx.sessions.for_person(b_nurse.id))[0].id)
    own = {"conversation_id": conv_a["id"], "message_id": msg_a["id"], "person_id": str(peer.id),
           "session_id": str(uuid.uuid4()), "passkey_id": str(uuid.uuid4()), "token": "x" * 43, "peer": str(peer.id),
           "team_id": team_a["id"], "attachment_id": att_a["id"], "report_id": str(rep_a.report_id),
           "action_id": str(uuid.uuid4()), "kind": FORM_KIND, "record_id": str(uuid.uuid4()),
           "file_id": file_a, "upload_id": up_a["id"], "alert_id": alert_a}
    other = {"conversation_id": conv_b["id"], "message_id": msg_b["id"], "person_id": str(b_nurse.id),
             "session_id": b_session_id, "passkey_id": str(uuid.uuid4()), "token": "x" * 43,
             "peer": str(b_nurse.id), "team_id": team_b["id"], "attachment_id": att_b["id"],
             "report_id": str(rep_b.report_id), "action_id": str(uuid.uuid4()), "kind": FORM_KIND,
             "record_id": str(uuid.uuid4()), "file_id": file_b, "upload_id": up_b["id"], "alert_id": alert_b}
    secrets_b = {str(org_b.id), conv_b["id"], msg_b["id"], str(b_nurse.id), str(b_admin.id), b_nurse.email,
                 b_admin.email, "Secret B", team_b["id"], "Cuisine B", att_b["id"],
                 "note-secrete-b", up_b["id"], str(rep_b.report_id), "Fugue signalée B", "Jardin B", file_b, alert_b,
                 "constat-secret-b"}
    return actors, own, other, secrets_b


def _operations(app: Any) -> list[str]:
    return [f"{method.upper()} {path}" for path, ops in app.openapi()["paths"].items() for method in ops]


async def test_every_operation_is_classified(installation: Installation) -> None:
    unclassified = sorted(set(_operations(create_app(installation))) - set(MATRIX))
    assert not unclassified, f"classify these operations in the authorization matrix: {unclassified}"


async def test_authorization_matrix(installation: Installation) -> None:
    app = create_app(installation)
    app.state.login_limiter.per_minute = 1_000_000  # the matrix is not a brute-force attempt
    actors, own, other, secrets_b = await _world(installation)
    escapes: list[str] = []
    checked = 0
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        for op in _operations(app):
            rule = MATRIX[op]
            method, path = op.split(" ", 1)

            async def call(ctx: Ctx, token: str | None, rule: Rule = rule, method: str = method,
                           path: str = path, op: str = op) -> httpx.Response:
                url = path.format(**{**{k: v for k, v in ctx.items() if "{" + k + "}" in path}, **rule.params})
                headers = {"Authorization": f"Bearer {token}"} if token else {}
                body = rule.body(ctx) if rule.body else None
                kwargs: dict[str, Any] = {"params": rule.query, "headers": headers}
                if rule.upload:
                    kwargs["files"] = {"file": ("relève.txt", b"Transmission de nuit\n", "text/plain")}
                elif op.endswith("backchannel-logout"):
                    kwargs["data"] = {"logout_token": "x.y.z"}
                elif body is not None:
                    kwargs["json"] = body
                return await c.request(method, url, **kwargs)

            r = await call(own, None)
            checked += 1
            if r.status_code >= 500 or (rule.access != PUBLIC and r.status_code != 401):
                escapes.append(f"{op} without a session → {r.status_code}")
            for role, actor in actors.items():
                for side, ctx in (("own", own), ("other", other)):
                    r = await call(ctx, await _session(installation, actor))
                    checked += 1
                    text = r.text
                    if r.status_code >= 500:
                        escapes.append(f"{op} {role} {side} → {r.status_code}")
                    leaked = [s for s in secrets_b if s in text]
                    if leaked:
                        escapes.append(f"{op} {role} {side} leaks {leaked}")
                    if rule.access == PUBLIC:
                        continue
                    if side == "other" and any("{" + k + "}" in path for k in OBJECT_PARAMS):
                        if r.status_code not in (403, 404):
                            escapes.append(f"{op} {role} other organisation → {r.status_code}")
                        elif r.status_code == 403 and (rule.access == MEMBER or can(role, Permission(rule.access))):
                            escapes.append(f"{op} {role} other organisation → 403 (should look absent: 404)")
                        continue
                    if side == "own" and rule.access not in (PUBLIC, MEMBER):
                        allowed = can(role, Permission(rule.access))
                        if allowed and r.status_code in (401, 403):
                            escapes.append(f"{op} {role} allowed but → {r.status_code}")
                        if not allowed and r.status_code != 403:
                            escapes.append(f"{op} {role} not allowed but → {r.status_code}")
    print(f"authorization matrix: {checked} requests, {len(escapes)} escapes")
    assert not escapes, "\n".join(escapes)
