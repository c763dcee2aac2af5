"""The audit trail as an auditor and a DPO use it: signed checkpoints, full verification,
JSON Lines export, access traces with filters, and pruning past the audit retention period.

Reading the trail is itself audited: who looked at whose traces is a question too.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from typing_extensions import TypedDict

from chevet.app.access import require
from chevet.app.archive.audit import checkpoint_json, entry_json
from chevet.app.archive.audit import public_key_b64 as public_key_b64  # the API and CLI show it
from chevet.app.governance.witnessing import witness_round
from chevet.app.identity import addresses
from chevet.app.messaging.names import names_of
from chevet.app.services import Actor, Services
from chevet.core.audit import INSTALLATION_CHAIN, AuditEntry
from chevet.core.checkpoint import ChainVerdict, Checkpoint, signed_checkpoint, verify_chain_with_checkpoints
from chevet.core.errors import InvalidInput
from chevet.core.roles import Permission
from chevet.ports import Transaction

MIN_AUDIT_RETENTION_DAYS = 183  # access traces to patient data: at least six months, rolling
MAX_TRACES = 1000


async def checkpoint_all(services: Services, only: uuid.UUID | None = None) -> list[Checkpoint]:
    """Sign the current head of every chain (or of ``only``) that moved since its last
    checkpoint; the round goes to the witness first, then to the database."""
    signer = services.signer
    if signer is None:
        raise InvalidInput("audit_key_missing")
    made: list[Checkpoint] = []
    async with services.unit() as u:
        for chain in [only] if only is not None else await u.tx.audit.chains():
            head = await u.tx.audit.head(chain)
            if head is None or head[0] == 0:
                continue
            last = await u.tx.audit_trail.latest_checkpoint(chain)
            if last is not None and last.seq >= head[0]:
                continue
            at = services.clock.now()
            made.append(signed_checkpoint(chain, head, at, signer.key_id, signer.sign))
        await witness_round(services, made)
        for cp in made:
            await u.tx.audit_trail.add_checkpoint(cp)
    return made


async def verify_all(services: Services, public_key: bytes | None = None) -> list[ChainVerdict]:
    """Check every chain and its checkpoints. ``public_key`` (an auditor's own copy) overrides
    the installation's key, so that a replaced key file is noticed."""
    key = public_key if public_key is not None else (services.signer.public_key if services.signer else None)
    out = []
    async with services.db.transaction() as tx:
        chains = sorted(set(await tx.audit.chains()) | set(await tx.audit_trail.checkpoint_chains()))
        for chain in chains:
            head = await tx.audit.head(chain)
            entries = [e async for e in tx.audit.entries(chain)]
            out.append(verify_chain_with_checkpoints(chain, entries, head, await tx.audit_trail.checkpoints(chain),
                                                     key, await tx.audit_trail.anchor(chain)))
    return out


async def export_lines(services: Services, *, since: datetime | None, until: datetime | None,
                       org_id: uuid.UUID | None = None, operator: str = "operator") -> AsyncIterator[bytes]:
    """JSON Lines: a header with the public key, then per chain its entries in order (each with
    the previous entry's hash, so a partial export still verifies) and its checkpoints."""
    async with services.unit() as u:
        chains = [org_id] if org_id is not None else await u.tx.audit.chains()
        await u.audit(None, "audit.exported", None, "audit", org_id, by=operator,
                      since=since.isoformat() if since else None, until=until.isoformat() if until else None)
        if org_id is not None:
            await u.audit(org_id, "audit.exported", None, "audit", org_id, by=operator,
                          since=since.isoformat() if since else None, until=until.isoformat() if until else None)
    header = {"type": "header", "format": "chevet-audit-export-1", "exported_at": services.clock.now().isoformat(),
              "since": since.isoformat() if since else None, "until": until.isoformat() if until else None,
              "public_key_ed25519": public_key_b64(services),
              "key_id": services.signer.key_id if services.signer else None}
    yield orjson.dumps(header) + b"\n"
    async with services.db.transaction() as tx:
        for chain in chains:
            anchor = await tx.audit_trail.anchor(chain) or 0
            checkpoints = await tx.audit_trail.checkpoints(chain)
            after = 0
            prev: bytes | None = None
            while True:
                batch = await tx.audit_trail.search(chain, since=since, until=until, after_seq=after, limit=2000,
                                                    ascending=True)
                if not batch:
                    break
                for e in batch:
                    if prev is None or e.seq != after + 1:
                        prev = await _previous_hash(tx, chain, e.seq, anchor, checkpoints)
                    yield orjson.dumps(entry_json(e, prev)) + b"\n"
                    prev, after = e.hash, e.seq
            for cp in checkpoints:
                if ((since is None or cp.at >= since) and (until is None or cp.at < until)) or cp.seq == anchor:
                    yield orjson.dumps(checkpoint_json(cp)) + b"\n"


async def _previous_hash(tx: Any, chain: uuid.UUID, seq: int, anchor: int, checkpoints: list[Checkpoint]) -> bytes:
    from chevet.core.audit import GENESIS

    if seq == 1:
        return GENESIS
    if seq - 1 == anchor:
        return next((cp.head_hash for cp in checkpoints if cp.seq == anchor), GENESIS)
    before = await tx.audit_trail.entry_at(chain, seq - 1)
    return bytes(before.hash) if before else GENESIS


def _require_view(actor: Actor) -> None:
    """The trail's pages and API check this before anything else (the check is ``access.require``)."""
    require(actor, Permission.VIEW_AUDIT)


@dataclass(frozen=True, slots=True)
class TraceQuery:
    conversation_id: uuid.UUID | None = None
    person_id: uuid.UUID | None = None
    actions: tuple[str, ...] = ()
    since: datetime | None = None
    until: datetime | None = None
    before_seq: int | None = None
    limit: int = 100
    case_ref: str | None = None  # the care-case reference people see ("R-0012")


class TraceView(TypedDict):
    """One access trace, names resolved for display; ``detail`` holds the action's parameters."""

    seq: int
    at: str
    action: str
    actor_id: str | None
    actor_name: str | None
    object_type: str
    object_id: str | None
    object_name: str | None
    ip: str | None
    detail: dict[str, object]


async def traces(services: Services, actor: Actor, q: TraceQuery) -> list[TraceView]:
    """Access traces of the actor's own organisation: who read or wrote a care case, what a
    person did (and what was done about them). Names are resolved for display."""
    _require_view(actor)
    if q.since and q.until and q.since >= q.until:
        raise InvalidInput("period_invalid")
    limit = max(1, min(q.limit, MAX_TRACES))
    async with services.unit(actor.ip) as u:
        if q.conversation_id is not None and await u.tx.conversations.get(actor.org_id, q.conversation_id) is None \
                and not await u.tx.audit_trail.search(actor.org_id, object_id=q.conversation_id, limit=1):
            from chevet.core.errors import NotFound

            raise NotFound("conversation_not_found")
        if q.person_id is not None and await u.tx.people.get(actor.org_id, q.person_id) is None:
            from chevet.core.errors import NotFound

            raise NotFound("person_not_found")
        targets: list[uuid.UUID | None] = [q.conversation_id]
        if q.case_ref is not None:
            targets = [c for c in await _care_cases_named(services, u.tx, actor.org_id, q.case_ref)
                       if q.conversation_id in (None, c)]
            if not targets:
                from chevet.core.errors import NotFound

                raise NotFound("care_case_ref_unknown")
        found = []
        for target in targets:
            found += await u.tx.audit_trail.search(
                actor.org_id, conversation_id=target, about_id=q.person_id, actions=list(q.actions) or None,
                since=q.since, until=q.until, before_seq=q.before_seq, limit=limit)
        found = sorted(found, key=lambda e: e.seq, reverse=True)[:limit]
        ids = {e.actor_id for e in found if e.actor_id} | {e.object_id for e in found
                                                          if e.object_type == "person" and e.object_id}
        names = {p.id: p.name for p in await u.tx.people.many(actor.org_id, list(ids))}
        keys = await addresses.keys_for(services, u.tx, actor.org_id, found)
        titles = await _conversation_titles(services, u.tx, actor.org_id, found)
        await u.audit(actor.org_id, "audit.viewed", actor.id, "audit", q.conversation_id or q.person_id,
                      conversation=str(q.conversation_id) if q.conversation_id else None,
                      person=str(q.person_id) if q.person_id else None, case=bool(q.case_ref), results=len(found))
    return [{"seq": e.seq, "at": e.at.isoformat(), "action": e.action,
             "actor_id": str(e.actor_id) if e.actor_id else None,
             "actor_name": names.get(e.actor_id) if e.actor_id else None,
             "object_type": e.object_type, "object_id": str(e.object_id) if e.object_id else None,
             "object_name": names.get(e.object_id) if e.object_type == "person" and e.object_id
             else titles.get(cid) if (cid := conversation_of(e)) else None,
             "ip": addresses.recorded(e, keys), "detail": addresses.without_address(e.detail)} for e in found]


def _normal_ref(value: str) -> str:
    return "".join(ch for ch in value.casefold() if ch.isalnum())


async def _care_cases_named(services: Services, tx: Transaction, org_id: uuid.UUID, ref: str) -> list[uuid.UUID]:
    """The care cases whose reference is ``ref`` (case, spaces and dashes aside)."""
    wanted = _normal_ref(ref)
    if not wanted:
        return []
    return [n.conversation.id for n in await names_of(services, tx, await tx.conversations.care_cases(org_id))
            if n.care_case_ref is not None and _normal_ref(n.care_case_ref) == wanted]


async def _conversation_titles(services: Services, tx: Transaction, org_id: uuid.UUID,
                               found: list[AuditEntry]) -> dict[uuid.UUID, str]:
    """The names of the conversations the traces are about (a shredded one has none)."""
    convs = [c for cid in {conversation_of(e) for e in found} - {None}
             if cid is not None and (c := await tx.conversations.get(org_id, cid)) is not None]
    return {n.conversation.id: n.shown for n in await names_of(services, tx, convs)}


def conversation_of(e: AuditEntry) -> uuid.UUID | None:
    """The conversation a trace is about: its object, or the one a message's trace names."""
    if e.object_type == "conversation":
        return e.object_id
    named = e.detail.get("conversation")
    try:
        return uuid.UUID(named) if isinstance(named, str) else None
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class PruneReport:
    chain: str
    up_to_seq: int
    removed: int


async def prune(services: Services, now: datetime | None = None, *, dry_run: bool = False) -> list[PruneReport]:
    """Delete audit entries older than the audit retention period. A chain is only cut at a
    signed checkpoint, which becomes its new anchor, so it still verifies afterwards; entries
    newer than the last checkpoint before the cut-off wait for the next run."""
    days = max(services.governance.audit_retention_days, MIN_AUDIT_RETENTION_DAYS)
    cutoff = (now or services.clock.now()) - timedelta(days=days)
    reports: list[PruneReport] = []
    async with services.unit() as u:
        for chain in await u.tx.audit.chains():
            limit = await u.tx.audit_trail.last_seq_before(chain, cutoff)
            anchor = await u.tx.audit_trail.anchor(chain) or 0
            usable = [cp for cp in await u.tx.audit_trail.checkpoints(chain) if anchor < cp.seq <= limit]
            if not usable:
                continue
            cut = usable[-1].seq
            if dry_run:
                reports.append(PruneReport(str(chain), cut, cut - anchor))
                continue
            removed = await u.tx.audit_trail.prune(chain, cut)
            await u.tx.audit_trail.set_anchor(chain, cut, services.clock.now())
            reports.append(PruneReport(str(chain), cut, removed))
        for r in reports if not dry_run else []:
            await u.audit(None, "audit.pruned", None, "audit", None, chain=r.chain, up_to_seq=r.up_to_seq,
                          removed=r.removed, retention_days=days)
    return reports


async def installation_keys_created(services: Services, *, master: bool, audit_key: bool) -> None:
    """Key operations are audited on the installation chain."""
    async with services.unit() as u:
        if master:
            await u.audit(None, "key.master_created", None, "installation", INSTALLATION_CHAIN)
        if audit_key:
            await u.audit(None, "key.audit_key_created", None, "installation", INSTALLATION_CHAIN,
                          key_id=services.signer.key_id if services.signer else None)
