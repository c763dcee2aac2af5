"""The console's background operations: an organisation's export, import and backup.

Starting one checks the role (``core.operation.MAY_START``) and a passphrase, records it queued
with the passphrase sealed by the installation's credentials key, and audits the start, in one
transaction. A runner (``jobs/operations.py``) claims it with a lease, reports progress, and
finishes it done (with the file it produced) or failed (with a reason in words); the passphrase
is erased as soon as it ends. The produced file is encrypted with that passphrase, downloadable
only by a role that may start the kind, after a recent authentication, and deleted after
``KEEP_RESULT``. Every start, end and download is on the organisation's audit chain."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from chevet.app.identity.people import open_credential
from chevet.app.identity.session_policy import require_recent_authentication
from chevet.app.services import Actor, Services
from chevet.core import envelope
from chevet.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from chevet.core.ids import new_id
from chevet.core.operation import (
    KEEP_RESULT,
    LEASE,
    MAX_ATTEMPTS,
    MAX_IMPORT_BYTES,
    Operation,
    OperationKind,
    OperationState,
    may_see_console,
    may_start,
    progress_fraction,
)
from chevet.core.sealed_archive import MIN_PASSPHRASE


@dataclass(frozen=True, slots=True)
class OperationView:
    """One operation as the console shows it."""

    id: uuid.UUID
    kind: OperationKind
    state: OperationState
    done: int
    total: int
    percent: int
    requested_by: str | None
    created_at: datetime
    finished_at: datetime | None
    expires_at: datetime | None
    result_bytes: int | None
    input_bytes: int | None
    error: str | None
    downloadable: bool


@dataclass(frozen=True, slots=True)
class Download:
    """A produced file, once the download is allowed and audited."""

    operation_id: uuid.UUID
    kind: OperationKind
    stored_name: str
    size: int
    created_at: datetime


def _aad(op_id: uuid.UUID) -> bytes:
    return envelope.aad("operation", op_id)


def _check_kind(actor: Actor, kind: OperationKind) -> None:
    if not may_start(actor.person.role, kind):
        raise Forbidden("operation_forbidden")


def _view(op: Operation, names: dict[uuid.UUID, str], role_may: bool) -> OperationView:
    return OperationView(
        id=op.id, kind=op.kind, state=op.state, done=op.done, total=op.total,
        percent=100 if op.state is OperationState.DONE else int(progress_fraction(op.done, op.total) * 100),
        requested_by=names.get(op.requested_by) if op.requested_by else None, created_at=op.created_at,
        finished_at=op.finished_at, expires_at=op.expires_at, result_bytes=op.result_bytes,
        input_bytes=op.input_bytes, error=op.error,
        downloadable=role_may and op.state is OperationState.DONE and op.result_name is not None
        and op.kind is not OperationKind.IMPORT)


async def start(services: Services, actor: Actor, kind: OperationKind, passphrase: str, *,
                input_name: str | None = None, input_bytes: int | None = None,
                op_id: uuid.UUID | None = None) -> OperationView:
    """Queue an operation. An import names the archive the web layer already stored (``input_name``)."""
    _check_kind(actor, kind)
    if len(passphrase) < MIN_PASSPHRASE:
        raise InvalidInput("passphrase_too_short", min=MIN_PASSPHRASE)
    if kind is OperationKind.IMPORT:
        if input_name is None or not input_bytes:
            raise InvalidInput("operation_import_missing")
        if input_bytes > MAX_IMPORT_BYTES:
            raise InvalidInput("operation_import_too_large", max=MAX_IMPORT_BYTES // (1024 * 1024))
    op_id = op_id or new_id()
    now = services.clock.now()
    async with services.unit(actor.ip) as u:
        if kind is OperationKind.BACKUP and len(await u.tx.organisations.all()) > 1:
            # A backup copies the whole installation: with several organisations, it is the operator's.
            raise Conflict("operation_backup_shared")
        running = [o for o in await u.tx.operations.of_organisation(actor.org_id, 20)
                   if o.kind is kind and o.state in (OperationState.QUEUED, OperationState.RUNNING)]
        if running:
            raise Conflict("operation_already_running")
        op = Operation(id=op_id, org_id=actor.org_id, kind=kind, requested_by=actor.id, state=OperationState.QUEUED,
                       done=0, total=0, attempts=0, created_at=now, started_at=None, finished_at=None,
                       expires_at=None, result_name=input_name, result_bytes=None, input_bytes=input_bytes,
                       error=None, secret_sealed=envelope.seal(services.credential_key(), passphrase.encode(),
                                                               _aad(op_id)))
        await u.tx.operations.add(op)
        await u.audit(actor.org_id, "operation.started", actor.id, "operation", op_id, kind=kind.value)
    return _view(op, {actor.id: actor.person.name}, True)


async def operations(services: Services, actor: Actor) -> list[OperationView]:
    """The organisation's recent operations, newest first."""
    if not may_see_console(actor.person.role):
        raise Forbidden("operation_forbidden")
    async with services.db.transaction() as tx:
        ops = await tx.operations.of_organisation(actor.org_id)
        asked = list({o.requested_by for o in ops if o.requested_by})
        names = {p.id: p.name for p in await tx.people.many(actor.org_id, asked)}
    return [_view(o, names, may_start(actor.person.role, o.kind)) for o in ops]


async def download(services: Services, actor: Actor, op_id: uuid.UUID) -> Download:
    """Allow one download of a produced file: the role, a recent authentication, an audit entry."""
    async with services.unit(actor.ip) as u:
        op = await u.tx.operations.get(actor.org_id, op_id)
        if op is None or op.kind is OperationKind.IMPORT:
            raise NotFound("operation_not_found")
        _check_kind(actor, op.kind)
        if op.state is not OperationState.DONE or op.result_name is None or op.result_bytes is None:
            raise Conflict("operation_not_ready")
        await require_recent_authentication(services, actor, u.tx)
        await u.audit(actor.org_id, "operation.downloaded", actor.id, "operation", op.id, kind=op.kind.value)
    return Download(op.id, op.kind, op.result_name, op.result_bytes, op.created_at)


# --- for the runner -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Claimed:
    operation: Operation
    org_slug: str
    passphrase: str | None   # None when the operation was given up (too many attempts)


async def claim(services: Services) -> Claimed | None:
    """Lease the next due operation. One interrupted more than ``MAX_ATTEMPTS`` times is failed
    in words instead of started again."""
    now = services.clock.now()
    async with services.unit() as u:
        op = await u.tx.operations.claim(now, now + LEASE)
        if op is None:
            return None
        org = await u.tx.organisations.get(op.org_id)
        assert org is not None
        if op.attempts > MAX_ATTEMPTS or op.secret_sealed is None:
            await u.tx.operations.finish(op.id, op.attempts, OperationState.FAILED, now, error="operation_interrupted")
            await u.audit(op.org_id, "operation.failed", None, "operation", op.id, kind=op.kind.value,
                          reason="operation_interrupted")
            return Claimed(op, org.slug, None)
        secret = open_credential(services, op.secret_sealed, _aad(op.id)).decode()
        if op.attempts > 1:
            await u.audit(op.org_id, "operation.resumed", None, "operation", op.id, kind=op.kind.value,
                          attempt=op.attempts)
    return Claimed(op, org.slug, secret)


async def renew(services: Services, op: Operation, done: int, total: int) -> bool:
    """Extend the lease and record progress; False when another runner has taken the operation."""
    now = services.clock.now()
    async with services.db.transaction() as tx:
        return await tx.operations.renew(op.id, op.attempts, now + LEASE, done, total)


async def succeed(services: Services, op: Operation, result_name: str | None, result_bytes: int | None,
                  done: int) -> bool:
    now = services.clock.now()
    async with services.unit() as u:
        ok = await u.tx.operations.finish(op.id, op.attempts, OperationState.DONE, now, result_name=result_name,
                                          result_bytes=result_bytes, done=done,
                                          expires_at=now + KEEP_RESULT if result_name else None)
        if ok:
            await u.audit(op.org_id, "operation.done", None, "operation", op.id, kind=op.kind.value,
                          bytes=result_bytes)
    return ok


async def fail(services: Services, op: Operation, reason: str) -> bool:
    """``reason`` is a message id of the catalogs (shown to the person, in their language)."""
    now = services.clock.now()
    async with services.unit() as u:
        ok = await u.tx.operations.finish(op.id, op.attempts, OperationState.FAILED, now, error=reason)
        if ok:
            await u.audit(op.org_id, "operation.failed", None, "operation", op.id, kind=op.kind.value, reason=reason)
    return ok


async def expire(services: Services) -> list[str]:
    """Mark the operations whose file is past its keeping time; returns the files to delete."""
    now = services.clock.now()
    names = []
    async with services.unit() as u:
        for op in await u.tx.operations.expired(now):
            if op.result_name:
                names.append(op.result_name)
            await u.tx.operations.mark_expired(op.id)
            await u.audit(op.org_id, "operation.expired", None, "operation", op.id, kind=op.kind.value)
    return names
