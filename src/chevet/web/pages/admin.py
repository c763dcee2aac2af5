"""Administration: people (invite, roles, deactivate), teams, organisation settings. Every
change goes through an app action that checks the permission and writes the audit entry."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from chevet.app.identity import invitation_mail, mail_outbox, people
from chevet.app.messaging import preferences, teams
from chevet.core.entities import Person, PersonStatus
from chevet.core.errors import ChevetError, Forbidden, InvalidInput
from chevet.core.ids import parse_id
from chevet.core.roles import Role
from chevet.web.invitation_mail import invitation_link
from chevet.web.invitation_mail import invitation_mail as invitation_mail_for
from chevet.web.pages.page import Page, SignedInPage, field_of, read_form, signed_in, ui
from chevet.web.qr import qr_svg

router = APIRouter(prefix="/admin", include_in_schema=False)


def _require(p: Page, permission: str) -> None:
    if not p.can(permission):
        raise Forbidden("forbidden")


def _origin(p: Page) -> str:
    return p.request.app.state.settings.server.public_url or str(p.request.base_url).rstrip("/")


def _invitation_link(p: Page, token: str) -> str:
    return invitation_link(_origin(p), token)


async def _people_page(p: SignedInPage, status: int = 200, **extra: object) -> Response:
    q = (p.request.query_params.get("q") or "").strip()[:100]
    found = await people.search_people(p.services, p.actor, q, 200)
    invited = [x.id for x in found if x.status is PersonStatus.INVITED]
    mail_states = await mail_outbox.states(p.services, p.actor.org_id, invitation_mail.KIND, invited)
    context: dict[str, object] = {"q": q, "people": found, "mail_states": mail_states,
                                  "roles": list(Role), "error": None, "link": None, "form": {},
                                  "notice": p.request.query_params.get("notice"), "me": p.actor.id,
                                  "teams": await teams.list_teams(p.services, p.actor) if p.can("manage_teams") else []}
    context.update(extra)
    return p.render("admin_people.html", status=status, **context)


@router.get("/people")
@ui
async def people_page(request: Request) -> Response:
    p = await signed_in(request)
    _require(p, "manage_people")
    return await _people_page(p)


@router.post("/people/invite")
@ui
async def invite(request: Request) -> Response:
    """Invite, put in the chosen teams (their channels are joined at the first sign-in), and
    queue the link's e-mail (it leaves from the server's outbox, never from this request); the
    page shows the link, its QR code and a copy button anyway."""
    p = await signed_in(request)
    _require(p, "manage_people")
    form = await read_form(p)
    values = {k: field_of(form, k, 300) for k in ("email", "name", "role", "rpps")}
    team_ids = [parse_id(v) for v in form.getlist("team") if isinstance(v, str)][:50]
    days = max(1, round(p.services.policy.invitation_lifetime.total_seconds() / 86400))
    try:
        invited = await people.invite_person(p.services, p.actor.organisation, p.actor, email=values["email"],
                                             name=values["name"], role=values["role"], rpps=values["rpps"] or None,
                                             mail=invitation_mail_for(_origin(p), p.actor.organisation.name, days))
    except ChevetError as exc:
        if isinstance(exc, Forbidden):
            raise
        return await _people_page(p, 422, error=p.error_text(exc), form=values)
    for team_id in team_ids:
        await teams.add_team_member(p.services, p.actor, team_id, invited.person.id)
    link = _invitation_link(p, invited.token)
    return await _people_page(p, link=link, qr=qr_svg(link), invited=invited.person, mail_queued=invited.mail_queued)


@router.post("/people/{person_id}/role")
@ui
async def set_role(person_id: str, request: Request) -> Response:
    p = await signed_in(request)
    form = await read_form(p)
    try:
        await people.set_role(p.services, p.actor, parse_id(person_id), field_of(form, "role", 20))
    except InvalidInput as exc:
        return await _people_page(p, 422, error=p.error_text(exc))
    return p.redirect("/admin/people?notice=role_changed")


@router.post("/people/{person_id}/deactivate")
@ui
async def deactivate(person_id: str, request: Request) -> Response:
    p = await signed_in(request)
    await read_form(p)
    try:
        await people.deactivate(p.services, p.actor, parse_id(person_id))
    except InvalidInput as exc:
        return await _people_page(p, 422, error=p.error_text(exc))
    return p.redirect("/admin/people?notice=deactivated")


def _by_name(members: list[Person]) -> list[Person]:
    return sorted(members, key=lambda x: x.name.lower())


async def _teams_page(p: SignedInPage, status: int = 200, error: str | None = None) -> Response:
    everyone = [x for x in await people.search_people(p.services, p.actor, "", 1000)]
    by_id = {str(x.id): x for x in everyone}
    views = [{"id": t["id"], "name": t["name"], "members": _by_name([by_id[m] for m in t["member_ids"] if m in by_id])}
             for t in await teams.list_teams(p.services, p.actor)]
    return p.render("admin_teams.html", status=status, teams=views,
                    people=[x for x in everyone if x.status.value != "deactivated"], error=error,
                    notice=p.request.query_params.get("notice"))


@router.get("/teams")
@ui
async def teams_page(request: Request) -> Response:
    p = await signed_in(request)
    _require(p, "manage_teams")
    return await _teams_page(p)


@router.post("/teams")
@ui
async def create_team(request: Request) -> Response:
    p = await signed_in(request)
    form = await read_form(p)
    try:
        await teams.create_team(p.services, p.actor, field_of(form, "name", 300))
    except ChevetError as exc:
        if isinstance(exc, Forbidden):
            raise
        return await _teams_page(p, 422, p.error_text(exc))
    return p.redirect("/admin/teams?notice=team_created")


@router.post("/teams/{team_id}/members")
@ui
async def add_team_member(team_id: str, request: Request) -> Response:
    p = await signed_in(request)
    form = await read_form(p)
    try:
        await teams.add_team_member(p.services, p.actor, parse_id(team_id), parse_id(field_of(form, "person_id", 40)))
    except InvalidInput as exc:
        return await _teams_page(p, 422, p.error_text(exc))
    return p.redirect("/admin/teams?notice=member_added")


@router.post("/teams/{team_id}/members/{person_id}/remove")
@ui
async def remove_team_member(team_id: str, person_id: str, request: Request) -> Response:
    p = await signed_in(request)
    await read_form(p)
    await teams.remove_team_member(p.services, p.actor, parse_id(team_id), parse_id(person_id))
    return p.redirect("/admin/teams?notice=member_removed")


@router.get("/organisation")
@ui
async def organisation(request: Request) -> Response:
    p = await signed_in(request)
    _require(p, "manage_organisation")
    content = await preferences.organisation_push_content(p.services, p.actor)
    list_preview = await preferences.organisation_list_preview(p.services, p.actor)
    return p.render("admin_org.html", content=content.value, notice=request.query_params.get("notice"),
                    push_services=request.app.state.settings.push.services, list_preview=list_preview)


@router.post("/organisation")
@ui
async def save_organisation(request: Request) -> Response:
    p = await signed_in(request)
    form = await read_form(p)
    await preferences.set_organisation_push_content(p.services, p.actor, field_of(form, "push_content", 12))
    return p.redirect("/admin/organisation?notice=saved")


@router.post("/organisation/list-preview")
@ui
async def save_list_preview(request: Request) -> Response:
    """Its own form, so that saving it never touches the notification policy."""
    p = await signed_in(request)
    form = await read_form(p)
    await preferences.set_organisation_list_preview(p.services, p.actor, field_of(form, "list_preview", 3) == "on")
    return p.redirect("/admin/organisation?notice=saved")
