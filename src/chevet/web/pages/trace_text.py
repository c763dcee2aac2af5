"""Access traces as a person reads them: one French (or English) sentence per trace, its
details in words, and the readable CSV. The wording of each action is in the catalogs
(``audit.sentence.<action>``, ``audit.action.<action>``); nothing here shows a code, an id,
JSON or a UTC time."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime

from chevet.app.governance.audit_trail import TraceView
from chevet.core.roles import Role
from chevet.core.spreadsheet import safe_cell
from chevet.web.i18n import catalog
from chevet.web.pages.page import Page

ACTION_PREFIX = "audit.action."
_ROLES = {r.value for r in Role}


def action_choices(p: Page) -> list[tuple[str, str]]:
    """Every action the trail records, as (code, label in the page's language), by label."""
    codes = [k[len(ACTION_PREFIX):] for k in catalog("fr")
             if k.startswith(ACTION_PREFIX) and k != ACTION_PREFIX + "unknown"]
    return sorted(((c, p.t(ACTION_PREFIX + c)) for c in codes), key=lambda pair: pair[1].casefold())


def is_known_action(code: str) -> bool:
    return ACTION_PREFIX + code in catalog("fr")


def when(row: TraceView) -> datetime:
    return datetime.fromisoformat(row["at"])


def who(p: Page, row: TraceView) -> str:
    if row["actor_name"]:
        return row["actor_name"]
    return p.t("audit.who.unknown") if row["actor_id"] else p.t("audit.who.system")


def subject(p: Page, row: TraceView) -> str:
    # A message's trace is about the conversation it was written in.
    kind = {"conversation": "conversation", "message": "conversation", "person": "person"}.get(row["object_type"],
                                                                                            "other")
    name = row["object_name"]
    return p.t(f"audit.object.{kind}", name=name) if name else p.t(f"audit.object.{kind}.unnamed")


def sentence(p: Page, row: TraceView) -> str:
    """« Paul Lefèvre a lu la conversation « Suivi R-0012 » le 3 décembre à 14 h 05 depuis 10.0.0.4 »."""
    key = f"audit.sentence.{row['action']}"
    if key not in catalog("fr"):
        key = "audit.sentence.unknown"
    ip = p.t("audit.ip", ip=row["ip"]) if row["ip"] else ""
    return p.t(key, who=who(p, row), object=subject(p, row), when=p.moment(when(row), year=False), ip=ip)


def details(p: Page, row: TraceView) -> list[str]:
    """The few parameters that mean something to a reader, in words (never JSON, never an id)."""
    d = row["detail"]
    out: list[str] = []
    old, new = d.get("old"), d.get("new")
    if row["action"] == "person.role_changed" and old in _ROLES and new in _ROLES:
        out.append(p.t("audit.detail.role", old=p.t(f"role.{old}"), new=p.t(f"role.{new}")))
    via = d.get("via")
    if isinstance(via, str) and f"audit.via.{via}" in catalog("fr"):
        out.append(p.t(f"audit.via.{via}"))
    for field, key in (("count", "audit.detail.count"), ("results", "audit.detail.results"),
                       ("days", "audit.detail.days")):
        value = d.get(field)
        if isinstance(value, int) and not isinstance(value, bool):
            out.append(p.t(key, count=p.number(value)))
    reason = d.get("reason")
    if isinstance(reason, str) and reason and not re.fullmatch(r"[a-z_]+", reason):
        out.append(p.t("audit.detail.reason", value=reason[:200]))
    return out


def readable_csv(p: Page, rows: list[TraceView]) -> bytes:
    """The traces for a spreadsheet: French headers, Paris times, ';' between cells and a UTF-8
    byte-order mark, so that a French Excel opens it as it is."""
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=";")
    writer.writerow([p.t(f"gov.csv.{c}") for c in ("at", "actor", "action", "object", "ip", "sentence", "detail")])
    for r in rows:
        label = p.t(ACTION_PREFIX + r["action"]) if is_known_action(r["action"]) else p.t("audit.action.unknown")
        writer.writerow([safe_cell(x) for x in (p.short_moment(when(r)), who(p, r), label, subject(p, r), r["ip"] or "",
                                             sentence(p, r), " ; ".join(details(p, r)))])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")
