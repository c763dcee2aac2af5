"""What the retention purge removes and when, through the real purge over in-memory fakes:
per kind of conversation and per type of report, with overrides, legal holds, a chosen
``as_of`` and dry runs. (The arithmetic alone is in test_retention_rules.py; the same purge on
SQLite and PostgreSQL is in tests/integration/test_governance_retention.py.)"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

import pytest

from chevet.app.governance.retention import purge
from chevet.core import envelope
from chevet.core.audit import INSTALLATION_CHAIN
from chevet.core.conversation import ConversationKind
from chevet.core.retention import RetentionRule
from chevet.core.roles import Role
from chevet.core.signalement.taxonomy import EigsCriterion, SecurityImpact
from tests.fakes.world import NOW, Member, World

DAY = timedelta(days=1)
TEAM, GROUP, DIRECT = ConversationKind.TEAM, ConversationKind.GROUP, ConversationKind.DIRECT
CARE, EXTERNAL = ConversationKind.CARE_CASE, ConversationKind.EXTERNAL


def ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def conversation_with(w: World, kind: ConversationKind, ages: Sequence[float], author: Member) -> uuid.UUID:
    """A conversation created with its oldest message, then one message per age (in days),
    each saying its age."""
    org = author.actor.organisation
    cid = w.conversation(org, kind, [author], at=ago(max(ages)))
    for age in sorted(ages, reverse=True):
        w.entry(cid, author, ago(age), text=f"{age:g}")
    return cid


def texts(w: World, cid: uuid.UUID) -> list[str]:
    key = envelope.DataKey(w.services.keys.unwrap(w.tables.conversation_keys[cid], envelope.aad("ckey", cid)))
    from chevet.app.messaging.views import body_of

    return [body_of(cid, key, e) or "" for _, e in sorted(w.tables.entries[cid].items()) if e.body_sealed]


def setup() -> tuple[World, Member]:
    w = World()
    return w, w.member(w.organisation(), Role.NURSE)


# --- per kind, with the default periods (team 90 days, group 180, direct and external 365;
# --- care cases 365 days after closing) --------------------------------------------------
@pytest.mark.parametrize(("kind", "ages", "closed_days_ago", "kept"), [
    (TEAM, [100, 91, 89, 1], None, ["89", "1"]),       # messages past 90 days go, the channel lives
    (GROUP, [200, 179], None, ["179"]),
    (DIRECT, [400, 10], None, ["10"]),
    (EXTERNAL, [400, 364], None, ["364"]),
    (CARE, [3000, 1000], None, ["3000", "1000"]),      # an open care case keeps everything
    (CARE, [900, 500], 364, ["900", "500"]),           # closed less than its period ago: whole
])
async def test_what_stays_in_a_living_conversation(kind: ConversationKind, ages: list[float],
                                                    closed_days_ago: float | None, kept: list[str]) -> None:
    w, author = setup()
    cid = conversation_with(w, kind, ages, author)
    if closed_days_ago is not None:
        w.retention(cid, closed_at=ago(closed_days_ago))
    before = len(w.tables.entries[cid])

    report = await purge(w.services)

    assert texts(w, cid) == kept
    assert report.shredded == []
    removed = before - len(w.tables.entries[cid])
    assert [x["entries"] for x in report.expired_messages] == ([removed] if removed else [])
    if removed:
        tombstone = w.tables.audit[author.actor.org_id][-1]
        assert tombstone.action == "retention.messages_expired" and tombstone.object_id == cid
        assert tombstone.detail["entries"] == removed  # counts and ids, never what was said


@pytest.mark.parametrize(("kind", "ages", "closed_days_ago"), [
    (TEAM, [95, 91], None),            # inactive for more than 90 days
    (GROUP, [181], None),
    (DIRECT, [366], None),
    (EXTERNAL, [366, 365.5], None),
    (CARE, [900], 366),                # closed more than 365 days ago
])
async def test_what_goes_whole(kind: ConversationKind, ages: list[float], closed_days_ago: float | None) -> None:
    w, author = setup()
    cid = conversation_with(w, kind, ages, author)
    if closed_days_ago is not None:
        w.retention(cid, closed_at=ago(closed_days_ago))
    entries = len(w.tables.entries[cid])

    report = await purge(w.services)

    assert [(x["conversation_id"], x["entries"]) for x in report.shredded] == [(str(cid), entries)]
    assert cid not in w.tables.conversation_keys and cid not in w.tables.conversations
    assert cid not in w.tables.entries and cid not in w.tables.members
    tombstone = w.tables.audit[author.actor.org_id][-1]
    assert (tombstone.action, tombstone.object_id, tombstone.detail["entries"]) == (
        "retention.conversation_shredded", cid, entries)
    assert w.tables.audit[INSTALLATION_CHAIN][-1].detail["conversations_shredded"] == 1


async def test_an_owners_period_counts_and_stays_inside_the_dpos_current_limits() -> None:
    w, author = setup()
    chosen = conversation_with(w, TEAM, [40, 20, 1], author)
    w.retention(chosen, days=30)
    await purge(w.services)
    assert texts(w, chosen) == ["20", "1"]

    clamped = conversation_with(w, TEAM, [70, 50, 1], author)
    w.retention(clamped, days=30)  # chosen under the earlier limits
    w.tables.retention_policies[author.actor.org_id] = {TEAM: RetentionRule(TEAM, 90, 60, 120)}
    await purge(w.services)
    assert texts(w, clamped) == ["50", "1"]  # 30 days is raised to the new minimum, 60


# --- legal hold ----------------------------------------------------------------------------
async def test_a_legal_hold_suspends_every_deletion_until_lifted() -> None:
    w, author = setup()
    trimmed = conversation_with(w, TEAM, [100, 1], author)
    whole = conversation_with(w, DIRECT, [400], author)
    quiet = conversation_with(w, TEAM, [1], author)  # nothing due: not reported as held
    for cid in (trimmed, whole, quiet):
        w.retention(cid, legal_hold=True)
    before = w.tables.copy()

    report = await purge(w.services)

    assert sorted(report.held) == sorted([str(trimmed), str(whole)])
    assert report.shredded == [] and report.expired_messages == []
    assert w.tables.entries == before.entries and w.tables.conversation_keys == before.conversation_keys

    w.retention(trimmed)
    w.retention(whole)
    report = await purge(w.services)
    assert [x["conversation_id"] for x in report.shredded] == [str(whole)]
    assert [x["conversation_id"] for x in report.expired_messages] == [str(trimmed)]


# --- as of ---------------------------------------------------------------------------------
async def test_the_boundaries_fall_where_the_period_ends() -> None:
    """A message goes once strictly older than the period; a conversation goes the instant its
    period after the last activity has run out."""
    w, author = setup()
    cid = conversation_with(w, TEAM, [10, 5], author)
    tick = timedelta(microseconds=1)

    assert (await purge(w.services, ago(10) + 90 * DAY)).expired_messages == []
    trimmed = await purge(w.services, ago(10) + 90 * DAY + tick)
    assert trimmed.expired_messages[0]["entries"] == 2 and texts(w, cid) == ["5"]  # "created" went with "10"

    assert (await purge(w.services, ago(5) + 90 * DAY - tick)).shredded == []
    assert [x["conversation_id"] for x in (await purge(w.services, ago(5) + 90 * DAY)).shredded] == [str(cid)]


async def test_as_of_defaults_to_the_clock() -> None:
    w, author = setup()
    cid = conversation_with(w, TEAM, [60], author)
    assert (await purge(w.services)).shredded == []
    w.clock.advance(31 * DAY)
    report = await purge(w.services)
    assert report.as_of == NOW + 31 * DAY and [x["conversation_id"] for x in report.shredded] == [str(cid)]


# --- dry run -------------------------------------------------------------------------------
async def test_a_dry_run_reports_exactly_what_the_purge_then_does_and_changes_nothing() -> None:
    w, author = setup()
    for kind, ages in ((TEAM, [100, 1]), (DIRECT, [400]), (CARE, [1000]), (GROUP, [10])):
        conversation_with(w, kind, ages, author)
    held = conversation_with(w, GROUP, [200], author)
    w.retention(held, legal_hold=True)
    w.report(author.actor.organisation, received_at=ago(4000), closed_at=ago(3700))
    before = w.tables.copy()

    dry = await purge(w.services, dry_run=True)

    assert w.tables == before, "a dry run writes nothing, not even an audit entry"
    done = await purge(w.services)
    assert {**dry.as_dict(), "dry_run": False} == done.as_dict()
    assert dry.as_dict()["totals"] == {"conversations_shredded": 1, "reports_shredded": 1, "entries_removed": 4}


# --- reports (kept for the longest period of their types, from their closure) ---------------
YEARS5, YEARS10 = 5 * 365 * DAY, 10 * 365 * DAY


@pytest.mark.parametrize(("classification", "period", "types"), [
    ({}, YEARS5, ["signalement.internal"]),
    ({"categories": ("maltraitance",)}, YEARS10, ["signalement.essms"]),
    ({"eigs": (EigsCriterion.DEATH,)}, YEARS10, ["signalement.eigs"]),
    ({"security": (SecurityImpact.DATA,)}, YEARS5, ["signalement.security"]),
    ({"gdpr": True}, YEARS5, ["signalement.gdpr"]),
    ({"security": (SecurityImpact.DATA,), "categories": ("maltraitance",)}, YEARS10,
     ["signalement.essms", "signalement.security"]),
])
async def test_a_closed_report_goes_when_its_longest_period_ends(classification: dict[str, object],
                                                                  period: timedelta, types: list[str]) -> None:
    w = World()
    org = w.organisation()
    closed = NOW - 20 * 365 * DAY
    r = w.report(org, received_at=closed - 30 * DAY, closed_at=closed, **classification)  # type: ignore[arg-type]

    assert (await purge(w.services, closed + period - timedelta(seconds=1))).reports == []
    assert r.id in w.tables.reports
    report = await purge(w.services, closed + period)

    assert report.reports == [{"org_id": str(org.id), "report_id": str(r.id), "days": period.days, "types": types}]
    assert r.id not in w.tables.reports and r.id not in w.tables.report_keys and r.id not in w.tables.report_readers
    tombstone = w.tables.audit[org.id][-1]
    assert (tombstone.action, tombstone.object_id, tombstone.detail) == (
        "report.purged", r.id, {"reason": "retention", "types": types})


async def test_an_open_report_never_expires_and_the_organisations_period_counts() -> None:
    w = World()
    org, other = w.organisation(), w.organisation("other")
    still_open = w.report(org, received_at=ago(40 * 365), closed_at=None, eigs=(EigsCriterion.DEATH,))
    short = w.report(org, received_at=ago(500), closed_at=ago(401))
    elsewhere = w.report(other, received_at=ago(500), closed_at=ago(401))
    from chevet.core.signalement.retention import RecordType

    w.tables.report_retention[org.id] = {RecordType.INTERNAL: 400}

    report = await purge(w.services)

    assert [x["report_id"] for x in report.reports] == [str(short.id)]
    assert set(w.tables.reports) == {still_open.id, elsewhere.id}
