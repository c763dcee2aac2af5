"""The fake database: atomic transactions over ``Tables``, one at a time."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import cast

from chevet.ports import (
    ArchiveStore,
    AttachmentRepository,
    AuditTrail,
    BreachLog,
    ChallengeRepository,
    DirectoryRepository,
    InvitationRepository,
    MailOutbox,
    MssanteRepository,
    OrganisationRepository,
    PasskeyRepository,
    PreferenceRepository,
    PushRepository,
    RecoveryCodeRepository,
    SealedBlobRepository,
    SessionRepository,
    SignInFailureRepository,
    TeamRepository,
    UploadRepository,
)
from chevet.ports.alerts import AlertRepository
from chevet.ports.directory_sync import DirectorySyncStore
from chevet.ports.handovers import HandoverRepository
from chevet.ports.operations import OperationStore
from chevet.ports.organisation_keys import OrganisationKey
from chevet.ports.rosters import RosterRepository
from chevet.ports.shared_devices import SharedDeviceRepository
from tests.fakes.audit import FakeAuditLog
from tests.fakes.care import NoCareRecords
from tests.fakes.conversations import FakeConversations, FakeEntries
from tests.fakes.errors import not_faked
from tests.fakes.organisation_keys import FakeOrganisationKeys, keys_of
from tests.fakes.people import FakePeople, FakeSessionSecurity
from tests.fakes.reports import FakeReports
from tests.fakes.retention import FakeRetention
from tests.fakes.tables import Tables


class FakeTransaction:
    """The repositories over one transaction's working copy. Those no rule test needs yet
    raise ``NotImplementedError`` when reached."""

    def __init__(self, t: Tables) -> None:
        self.conversations = FakeConversations(t)
        self.entries = FakeEntries(t)
        self.audit = FakeAuditLog(t)
        self.people = FakePeople(t)
        self.session_security = FakeSessionSecurity(t)
        self.retention = FakeRetention(t)
        self.handovers = cast(HandoverRepository, NoCareRecords("handovers"))
        self.alerts = cast(AlertRepository, NoCareRecords("alerts"))
        self.reports = FakeReports(t)
        self.organisation_keys = FakeOrganisationKeys(t)

    @property
    def organisations(self) -> OrganisationRepository:
        raise not_faked("Transaction.organisations")

    @property
    def teams(self) -> TeamRepository:
        raise not_faked("Transaction.teams")

    @property
    def sessions(self) -> SessionRepository:
        raise not_faked("Transaction.sessions")

    @property
    def invitations(self) -> InvitationRepository:
        raise not_faked("Transaction.invitations")

    @property
    def passkeys(self) -> PasskeyRepository:
        raise not_faked("Transaction.passkeys")

    @property
    def recovery_codes(self) -> RecoveryCodeRepository:
        raise not_faked("Transaction.recovery_codes")

    @property
    def challenges(self) -> ChallengeRepository:
        raise not_faked("Transaction.challenges")

    @property
    def sign_in_failures(self) -> SignInFailureRepository:
        raise not_faked("Transaction.sign_in_failures")

    @property
    def mail_outbox(self) -> MailOutbox:
        raise not_faked("Transaction.mail_outbox")

    @property
    def sealed_blobs(self) -> SealedBlobRepository:
        raise not_faked("Transaction.sealed_blobs")

    @property
    def attachments(self) -> AttachmentRepository:
        raise not_faked("Transaction.attachments")

    @property
    def uploads(self) -> UploadRepository:
        raise not_faked("Transaction.uploads")

    @property
    def preferences(self) -> PreferenceRepository:
        raise not_faked("Transaction.preferences")

    @property
    def push(self) -> PushRepository:
        raise not_faked("Transaction.push")

    @property
    def mssante(self) -> MssanteRepository:
        raise not_faked("Transaction.mssante")

    @property
    def directory(self) -> DirectoryRepository:
        raise not_faked("Transaction.directory")

    @property
    def audit_trail(self) -> AuditTrail:
        raise not_faked("Transaction.audit_trail")

    @property
    def archive(self) -> ArchiveStore:
        raise not_faked("Transaction.archive")

    @property
    def breaches(self) -> BreachLog:
        raise not_faked("Transaction.breaches")

    @property
    def directory_sync(self) -> DirectorySyncStore:
        raise not_faked("Transaction.directory_sync")

    @property
    def operations(self) -> OperationStore:
        raise not_faked("Transaction.operations")

    @property
    def shared_devices(self) -> SharedDeviceRepository:
        raise not_faked("Transaction.shared_devices")

    @property
    def rosters(self) -> RosterRepository:
        raise not_faked("Transaction.rosters")


class FakeDatabase:
    """Each transaction works on a copy of the committed tables: kept on normal exit, dropped on
    error, as the real database commits or rolls back. Beginning and committing yield to the
    event loop as real I/O does. Transactions run one at a time: one opened while another is
    open is refused loudly (the real database would run them side by side, with row locks
    ordering writers; no rule tested here relies on that, and two writers of one conversation
    at once would be a bug). ``commits`` and ``rollbacks``
    count what happened, for tests that check how many transactions an action took."""

    def __init__(self) -> None:
        self.tables = Tables()
        self.commits = 0
        self.rollbacks = 0
        self._open = False

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[FakeTransaction]:
        if self._open:
            raise RuntimeError("the fake database runs one transaction at a time; this one overlaps another")
        self._open = True
        working = self.tables.copy()
        try:
            await asyncio.sleep(0)  # beginning and committing let other tasks run, as real I/O does
            yield FakeTransaction(working)
            await asyncio.sleep(0)
        except BaseException:
            self.rollbacks += 1
            raise
        else:
            self.tables = working
            self.commits += 1
        finally:
            self._open = False

    @property
    def in_transaction(self) -> bool:
        return self._open

    async def revision(self) -> str | None:
        return "fake"

    async def organisation_keys_of(self, org_id: uuid.UUID) -> list[OrganisationKey]:
        return keys_of(self.tables, org_id)

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        return None
