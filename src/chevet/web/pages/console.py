"""The console: one place, inside the app's navigation, where the administrator, the DPO, the
director, a manager and the quality lead find the pages they answer for.

``SECTIONS`` is the one list of the console's sections: the console home shows it grouped, and
every console page shows it as its section menu (``governance/_layout.html``). A section is shown
only to whom may use it; its page still answers 403 in words to a direct address."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import Response

from chevet.core.roles import Permission, Role, can
from chevet.web.pages.page import Page, signed_in, templates, ui

router = APIRouter(include_in_schema=False)

GROUPS = ("people", "care", "data", "reports", "evidence")
_ANSWERABLE = frozenset({Role.ADMIN, Role.DPO, Role.DIRECTOR})  # who answers for the data to the authorities


@dataclass(frozen=True, slots=True)
class Section:
    """One console section. Shown when the person's role has ``permission`` (and is one of
    ``roles``, when given), or when the person holds one of the signalement ``functions``."""

    key: str
    url: str
    group: str
    permission: Permission | None = None
    roles: frozenset[Role] | None = None
    functions: frozenset[str] = frozenset()

    @property
    def label(self) -> str:
        return f"console.section.{self.key}"

    @property
    def description(self) -> str:
        return f"console.section.{self.key}.about"

    def shown_to(self, role: Role, functions: frozenset[str]) -> bool:
        if self.functions & functions:
            return True
        if self.permission is None or not can(role, self.permission):
            return False
        return self.roles is None or role in self.roles


SECTIONS: tuple[Section, ...] = (
    Section("people", "/admin/people", "people", Permission.MANAGE_PEOPLE),
    Section("import", "/admin/people/import", "people", Permission.MANAGE_PEOPLE),
    Section("directory", "/admin/annuaire", "people", Permission.MANAGE_ORGANISATION),
    Section("teams", "/admin/teams", "people", Permission.MANAGE_TEAMS),
    Section("rosters", "/admin/plannings", "people", Permission.MANAGE_TEAMS),
    Section("organisation", "/admin/organisation", "people", Permission.MANAGE_ORGANISATION),
    Section("shared_devices", "/admin/appareils-partages", "people", Permission.MANAGE_ORGANISATION),
    # Urgent alerts still open or late, and the teams' escalation ladders (web/pages/alerts.py).
    Section("alerts", "/console/alertes", "care", Permission.VIEW_AUDIT,
            frozenset({Role.DIRECTOR, Role.MANAGER, Role.ADMIN})),
    # Handover notes late to be taken up, and each team's handover templates (web/pages/handovers.py).
    Section("handovers", "/transmissions/en-retard", "care", Permission.MANAGE_TEAMS),
    Section("handover_templates", "/transmissions/modeles", "care", Permission.MANAGE_TEAMS),
    Section("traces", "/gouvernance/traces", "data", Permission.VIEW_AUDIT),
    Section("receipt", "/gouvernance/recu", "data", Permission.VIEW_AUDIT),
    Section("retention", "/gouvernance/conservation", "data", Permission.MANAGE_RETENTION),
    Section("register", "/gouvernance/registre", "data", Permission.VIEW_AUDIT, _ANSWERABLE),
    Section("breaches", "/gouvernance/violations", "data", Permission.VIEW_AUDIT, _ANSWERABLE),
    Section("jobs", "/gouvernance/travaux", "data", Permission.MANAGE_RETENTION, frozenset({Role.ADMIN, Role.DPO})),
    Section("mssante", "/admin/mssante/quarantine", "data", Permission.MANAGE_ORGANISATION),
    Section("reports", "/signalement", "reports", functions=frozenset({"quality_lead", "director"})),
    Section("report_recipients", "/admin/signalement", "reports", Permission.MANAGE_ORGANISATION),
    Section("sobriety", "/admin/sobriety", "evidence", Permission.VIEW_SOBRIETY),
    Section("evidence", "/gouvernance/preuves", "evidence", Permission.VIEW_AUDIT, _ANSWERABLE,
            frozenset({"quality_lead"})),
)
BY_KEY = {s.key: s for s in SECTIONS}


def sections_for(p: Page) -> list[Section]:
    """The sections this person may use, in the console's order (none when signed out)."""
    if p.actor is None:
        return []
    return [s for s in SECTIONS if s.shown_to(p.actor.person.role, p.report_functions)]


templates.globals["console_sections"] = sections_for
templates.globals["console_groups"] = GROUPS


@router.get("/console")
@ui
async def console_home(request: Request) -> Response:
    p = await signed_in(request)
    shown = sections_for(p)
    title = p.t("console.title")
    if not shown:
        return p.render("governance/message.html", status=403, title=title, message=p.t("console.nothing"),
                        section="home")
    groups = [(g, [s for s in shown if s.group == g]) for g in GROUPS]
    return p.render("console/home.html", title=title, section="home", groups=[(g, s) for g, s in groups if s])
