"""Helpers of the governance tests: a clock the test moves, the CLI as a subprocess, a small
organisation with a care case, a team channel and a direct conversation."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from chevet.app.messaging import conversations, messages
from chevet.app.services import Services
from chevet.bootstrap import Installation
from chevet.core.entities import Organisation
from tests.support import Member, new_member, new_org

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
PASSPHRASE = "correct horse battery staple"


class FakeClock:
    def __init__(self, now: datetime) -> None:
        self.current = now

    def now(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> datetime:
        self.current += timedelta(**delta)
        return self.current


def use_clock(services: Services, now: datetime = T0) -> FakeClock:
    clock = FakeClock(now)
    services.clock = clock
    return clock


def cli(installation: Installation, *args: str, env: dict[str, str] | None = None,
        data_dir: bool = True) -> subprocess.CompletedProcess[str]:
    full = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "CHEVET_PASSWORD_TIME_COST": "1",
            "CHEVET_PASSWORD_MEMORY_KIB": "1024", **(env or {})}
    if installation.settings.database.url:
        full["CHEVET_DATABASE_URL"] = installation.settings.database.url
    extra = ["--data-dir", str(installation.settings.data_dir)] if data_dir else []
    return subprocess.run([sys.executable, "-m", "chevet.cli.main", *args, *extra], capture_output=True, text=True,
                          env=full)


@dataclass
class Scene:
    org: Organisation
    nurse: Member
    physician: Member
    manager: Member
    dpo: Member
    care: uuid.UUID
    team: uuid.UUID
    direct: uuid.UUID


async def scene(services: Services, slug: str | None = None) -> Scene:
    org = await new_org(services, slug)
    nurse = await new_member(services, org, "nurse", "Sophie Bernard")
    physician = await new_member(services, org, "physician", "Paul Lefèvre")
    manager = await new_member(services, org, "manager", "Claire Martin")
    dpo = await new_member(services, org, "dpo", "Denis Petit")
    care, _ = await conversations.create_conversation(services, nurse.actor, kind="care_case",
                                                      title="Suivi chambre 12", member_ids=[physician.id],
                                                      care_case_ref="CH12-R")
    team, _ = await conversations.create_conversation(services, manager.actor, kind="team", title="Relève nuit",
                                                      member_ids=[nurse.id, physician.id])
    direct, _ = await conversations.create_conversation(services, nurse.actor, kind="direct", title=None,
                                                        member_ids=[physician.id])
    return Scene(org, nurse, physician, manager, dpo, uuid.UUID(care["id"]), uuid.UUID(team["id"]),
                 uuid.UUID(direct["id"]))


async def say(services: Services, who: Member, conversation_id: uuid.UUID, text: str) -> dict[str, object]:
    view, _ = await messages.send_message(services, who.actor, conversation_id, body=text,
                                          client_id=uuid.uuid4().hex)
    return view


async def remove_trail(tx: Any, chain: uuid.UUID, *, from_seq: int, to_seq: int | None = None) -> None:
    """What an attacker with the database does to remove entries of an audit chain: its own rows,
    and the places that messages sent hold in it (``entry.audit_seq``), from ``from_seq`` on (to
    ``to_seq`` included)."""
    from sqlalchemy import delete, select, update

    from chevet.adapters.db.schema import audit_entry, conversation, entry

    upto = to_seq if to_seq is not None else 2**31 - 1
    await tx.conn.execute(delete(audit_entry).where(audit_entry.c.chain == chain, audit_entry.c.seq >= from_seq,
                                                    audit_entry.c.seq <= upto))
    await tx.conn.execute(update(entry).where(
        entry.c.conversation_id.in_(select(conversation.c.id).where(conversation.c.org_id == chain)),
        entry.c.audit_seq >= from_seq, entry.c.audit_seq <= upto).values(audit_seq=None, audit_hash=None))
