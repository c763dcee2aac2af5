"""Real ``Services`` over the fakes, and a few ways to put records in place for a test."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from chevet.adapters.organisation_key_file import FileKeyProvider
from chevet.app.services import Actor, Services
from chevet.core import envelope
from chevet.core.conversation import ConversationKind
from chevet.core.entities import Conversation, Entry, Membership, Organisation, Person, PersonStatus
from chevet.core.ids import new_id
from chevet.core.message import EntryKind, MessageFlag
from chevet.core.roles import Role
from chevet.core.signalement.records import Report
from chevet.core.signalement.report import ReportStatus
from chevet.core.signalement.taxonomy import EigsCriterion, ReporterMode, SecurityImpact, Severity
from tests.fakes.database import FakeDatabase
from tests.fakes.services import FakeBus, FakeClock, FakeDeclarations, FakeKeyStore, FakePasswords
from tests.fakes.tables import ConversationRow, RetentionRow, Tables

NOW = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Member:
    """A person of an organisation, signed in through one session a minute ago."""

    person: Person
    actor: Actor

    @property
    def id(self) -> uuid.UUID:
        return self.person.id


class World:
    def __init__(self, now: datetime = NOW) -> None:
        self.db = FakeDatabase()
        self.clock = FakeClock(now)
        self.bus = FakeBus()
        keys = FakeKeyStore()
        self.services = Services(db=self.db, keys=keys, bus=self.bus, clock=self.clock,
                                 passwords=FakePasswords(), declarations=FakeDeclarations(),
                                 key_providers={"file": FileKeyProvider(keys)})

    @property
    def tables(self) -> Tables:
        """What is committed."""
        return self.db.tables

    def organisation(self, slug: str = "ehpad") -> Organisation:
        return Organisation(new_id(), f"{slug}-{uuid.uuid4().hex[:6]}", slug.title(), self.clock.now())

    def member(self, org: Organisation, role: Role, *, name: str | None = None,
               status: PersonStatus = PersonStatus.ACTIVE) -> Member:
        pid = new_id()
        person = Person(pid, org.id, f"{pid.hex[:8]}@{org.slug}.example", name or f"{role.value} {pid.hex[:4]}",
                        role, status, None, "fr", self.clock.now())
        self.tables.people[pid] = person
        session_id = new_id()
        self.tables.authenticated_at[session_id] = self.clock.now() - timedelta(minutes=1)
        return Member(person, Actor(person, org, session_id, "192.0.2.10"))

    def conversation(self, org: Organisation, kind: ConversationKind, members: Sequence[Member], *,
                     owner: Member | None = None, at: datetime | None = None) -> uuid.UUID:
        """A conversation as ``create_conversation`` leaves it (its ``created`` entry at seq 1),
        created ``at`` (default now); ``owner`` defaults to the first member."""
        at = at or self.clock.now()
        owner = owner or members[0]
        cid = new_id()
        # Records put in place here keep their data keys under the master key (a legacy blob,
        # which the keyring opens): the world stays synchronous.
        wrapped = self.services.keys.wrap(envelope.random_key(), envelope.aad("ckey", cid))
        t = self.tables
        t.conversations[cid] = ConversationRow(Conversation(cid, org.id, kind, None, None, None, owner.id, at, 0), at)
        t.conversation_keys[cid] = wrapped
        t.members[cid] = {m.id: Membership(cid, m.id, m.id == owner.id, 1, 0, at) for m in members}
        t.entries[cid] = {}
        self.entry(cid, owner, at, kind=EntryKind.CREATED)
        return cid

    def entry(self, conversation_id: uuid.UUID, author: Member, at: datetime, *, text: str | None = None,
              kind: EntryKind = EntryKind.MESSAGE) -> Entry:
        """Append an entry to the log at its next position, written ``at`` (moves the activity)."""
        t = self.tables
        row = t.conversations[conversation_id]
        seq = row.conversation.last_seq + 1
        eid = new_id()
        key = envelope.DataKey(self.services.keys.unwrap(t.conversation_keys[conversation_id],
                                                         envelope.aad("ckey", conversation_id)))
        sealed = key.seal(text.encode(), envelope.aad("msg", conversation_id, eid)) if text is not None else None
        e = Entry(eid, conversation_id, seq, kind, author.id, at, sealed, MessageFlag.NONE, None, None, None, None)
        t.entries[conversation_id][seq] = e
        t.terms[eid] = []
        row.conversation = replace(row.conversation, last_seq=seq)
        row.last_activity = max(row.last_activity, at)
        return e

    def retention(self, conversation_id: uuid.UUID, *, days: int | None = None, legal_hold: bool = False,
                  closed_at: datetime | None = None) -> None:
        org_id = self.tables.conversations[conversation_id].conversation.org_id
        self.tables.retention[conversation_id] = RetentionRow(org_id, days, legal_hold, closed_at)

    def report(self, org: Organisation, *, received_at: datetime, closed_at: datetime | None,
               categories: tuple[str, ...] = (), eigs: tuple[EigsCriterion, ...] = (),
               security: tuple[SecurityImpact, ...] = (), gdpr: bool = False) -> Report:
        """A report as qualified (and closed, if ``closed_at``), with a reader; its content is
        an opaque stand-in (nothing here opens it)."""
        rid = new_id()
        wrapped = self.services.keys.wrap(envelope.random_key(), envelope.aad("rkey", rid))
        qualified = bool(categories or eigs or security or gdpr)
        status = ReportStatus.CLOSED if closed_at else ReportStatus.QUALIFIED if qualified else ReportStatus.NEW
        r = Report(rid, org.id, ReporterMode.NAMED, None, status, None, received_at, b"sealed content",
                   Severity.MAJOR if qualified else None, categories, eigs, security, gdpr, closed_at=closed_at)
        self.tables.reports[rid] = r
        self.tables.report_keys[rid] = wrapped
        self.tables.report_readers[rid] = [new_id()]
        return r
