"""Demo data: an EHPAD and a home-care service, their people, teams and a first handover. The
EHPAD has a director and a quality lead (its care manager), so that a report filed in the demo
reaches the people the form names.

Passwords are generated for each new demo installation and kept in ``demo-credentials.json``
(mode 0600) in the data folder, so that a restarted demo prints the same sign-in details.
"""

from __future__ import annotations

import json
import os
import secrets
import uuid
from typing import Any

from chevet.app.identity import organisations, people
from chevet.app.messaging import conversations, messages, teams
from chevet.app.services import Actor, Services
from chevet.app.signalement import designations
from chevet.settings import Settings

ORGANISATIONS: list[dict[str, Any]] = [
    {"slug": "ehpad-les-tilleuls", "name": "EHPAD Les Tilleuls", "domain": "tilleuls.example",
     "people": [("admin", "Claire Martin"), ("physician", "Paul Lefèvre"), ("nurse", "Sophie Bernard"),
                ("nurse", "Karim Haddad"), ("care_assistant", "Julie Petit"), ("dpo", "Marc Rousseau"),
                ("manager", "Nadia Moreau"), ("director", "Isabelle Fontaine")],
     "quality_leads": ["Nadia Moreau"],
     "teams": ["Unité Alzheimer", "Nuit"]},
    {"slug": "ssiad-du-val", "name": "SSIAD du Val", "domain": "ssiad-val.example",
     "people": [("manager", "Hélène Garnier"), ("nurse", "Thomas Roux")], "teams": ["Tournée du matin"]},
]


def _email(name: str, domain: str) -> str:
    base = name.lower().replace("è", "e").replace("é", "e").replace(" ", ".")
    return f"{base}@{domain}"


async def seed_demo(services: Services, settings: Settings) -> dict[str, Any]:
    path = settings.data_dir / "demo-credentials.json"
    if path.exists():
        saved: dict[str, Any] = json.loads(path.read_text())
        return saved
    out: dict[str, Any] = {"organisations": []}
    for spec in ORGANISATIONS:
        org = await organisations.create_organisation(services, spec["slug"], spec["name"])
        users = []
        actors: dict[str, Actor] = {}
        for role, name in spec["people"]:
            password = secrets.token_urlsafe(12)
            added = await people.add_person(services, org, email=_email(name, spec["domain"]), name=name,
                                            role=role, password=password)
            users.append({"email": added.person.email, "password": password, "totp_secret": added.totp_secret,
                          "role": role, "name": name, "quality_lead": name in spec.get("quality_leads", ())})
            actors.setdefault(role, Actor(added.person, org, None))
        for user in users:
            if user["quality_lead"]:
                await designations.designate(services, actors["admin"], next(
                    a.person.id for a in actors.values() if a.person.name == user["name"]), "quality_lead", True)
        care_staff = [a.person.id for a in actors.values()
                      if a.person.role.value in ("nurse", "care_assistant", "physician", "manager", "director")]
        lead = actors.get("admin") or actors["manager"]
        for team_name in spec["teams"]:
            await teams.create_team(services, lead, team_name, care_staff)
        if "manager" in actors and "nurse" in actors:
            lead = actors["manager"]
            members = [a.person.id for a in actors.values() if a is not lead]
            view, _ = await conversations.create_conversation(services, lead, kind="group",
                                                              title="Transmissions", member_ids=members)
            await messages.send_message(services, lead, uuid.UUID(view["id"]),
                                        body="Bienvenue sur Chevet : les transmissions de l'équipe se font ici.",
                                        client_id="demo-welcome")
        out["organisations"].append({"slug": org.slug, "name": org.name, "users": users})
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(out, fh, ensure_ascii=False)
    return out
