"""Console operations: an organisation's export, import or backup run in the background, with a
durable record (who asked, state, progress, result, sizes, times, reason of a failure). Sans I/O."""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from chevet.core.roles import Role


class OperationKind(enum.StrEnum):
    EXPORT = "export"    # the organisation's complete archive (open formats, encrypted with a passphrase)
    IMPORT = "import"    # an archive of another installation restored here
    BACKUP = "backup"    # the database (without data keys) and the sealed files, encrypted with a passphrase


class OperationState(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    EXPIRED = "expired"  # done, and its file deleted after the keeping time


# Who may start (and download) each kind. An export holds every message of the organisation: the
# administrator and the DPO (reversibility, subject rights) only. Import and backup change or copy
# the installation itself: the administrator only.
MAY_START: dict[OperationKind, frozenset[Role]] = {
    OperationKind.EXPORT: frozenset({Role.ADMIN, Role.DPO}),
    OperationKind.IMPORT: frozenset({Role.ADMIN}),
    OperationKind.BACKUP: frozenset({Role.ADMIN}),
}
LEASE = timedelta(seconds=60)        # a runner that stops renewing for this long has died
MAX_ATTEMPTS = 2                     # an interrupted operation is started again once, then failed
KEEP_RESULT = timedelta(days=7)      # a produced file is deleted this long after it is ready
MAX_IMPORT_BYTES = 64 * 1024 * 1024   # larger archives: `chevet import` on the server


def may_start(role: Role, kind: OperationKind) -> bool:
    return role in MAY_START[kind]


def may_see_console(role: Role) -> bool:
    return any(role in roles for roles in MAY_START.values())


@dataclass(frozen=True, slots=True)
class Operation:
    id: uuid.UUID
    org_id: uuid.UUID
    kind: OperationKind
    requested_by: uuid.UUID | None
    state: OperationState
    done: int
    total: int
    attempts: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    expires_at: datetime | None
    result_name: str | None       # file name in the data folder's operations/ (never a person's file name)
    result_bytes: int | None
    input_bytes: int | None
    error: str | None             # a message id of the catalogs, never an exception's text
    secret_sealed: bytes | None   # the archive passphrase, sealed; erased when the operation ends


def progress_fraction(done: int, total: int) -> float:
    return 0.0 if total <= 0 else min(1.0, done / total)
