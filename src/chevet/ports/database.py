"""The database: one transaction gives every repository."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

from chevet.ports.alerts import AlertRepository
from chevet.ports.attachments import AttachmentRepository
from chevet.ports.audit import AuditLog, AuditTrail
from chevet.ports.directory_sync import DirectorySyncStore
from chevet.ports.governance import ArchiveStore, BreachLog, RetentionStore
from chevet.ports.handovers import HandoverRepository
from chevet.ports.identity import (
    ChallengeRepository,
    InvitationRepository,
    OrganisationRepository,
    PasskeyRepository,
    PersonRepository,
    RecoveryCodeRepository,
    SessionRepository,
    SessionSecurityRepository,
    SignInFailureRepository,
    TeamRepository,
)
from chevet.ports.keys import SealedBlobRepository
from chevet.ports.mail import MailOutbox
from chevet.ports.messaging import ConversationRepository, EntryRepository, PreferenceRepository
from chevet.ports.mssante import DirectoryRepository, MssanteRepository
from chevet.ports.operations import OperationStore
from chevet.ports.organisation_keys import OrganisationKey, OrganisationKeyRepository
from chevet.ports.push import PushRepository
from chevet.ports.rosters import RosterRepository
from chevet.ports.shared_devices import SharedDeviceRepository
from chevet.ports.signalement import ReportRepository
from chevet.ports.uploads import UploadRepository


class Transaction(Protocol):
    """The repositories of one open transaction."""

    @property
    def organisations(self) -> OrganisationRepository: ...
    @property
    def people(self) -> PersonRepository: ...
    @property
    def teams(self) -> TeamRepository: ...
    @property
    def sessions(self) -> SessionRepository: ...
    @property
    def invitations(self) -> InvitationRepository: ...
    @property
    def conversations(self) -> ConversationRepository: ...
    @property
    def passkeys(self) -> PasskeyRepository: ...
    @property
    def recovery_codes(self) -> RecoveryCodeRepository: ...
    @property
    def challenges(self) -> ChallengeRepository: ...
    @property
    def session_security(self) -> SessionSecurityRepository: ...
    @property
    def sealed_blobs(self) -> SealedBlobRepository: ...
    @property
    def entries(self) -> EntryRepository: ...
    @property
    def audit(self) -> AuditLog: ...
    @property
    def attachments(self) -> AttachmentRepository: ...
    @property
    def uploads(self) -> UploadRepository: ...
    @property
    def preferences(self) -> PreferenceRepository: ...
    @property
    def push(self) -> PushRepository: ...
    @property
    def reports(self) -> ReportRepository: ...
    @property
    def mssante(self) -> MssanteRepository: ...
    @property
    def directory(self) -> DirectoryRepository: ...
    @property
    def audit_trail(self) -> AuditTrail: ...
    @property
    def retention(self) -> RetentionStore: ...
    @property
    def archive(self) -> ArchiveStore: ...
    @property
    def mail_outbox(self) -> MailOutbox: ...
    @property
    def sign_in_failures(self) -> SignInFailureRepository: ...
    @property
    def breaches(self) -> BreachLog: ...
    @property
    def directory_sync(self) -> DirectorySyncStore: ...
    @property
    def operations(self) -> OperationStore: ...
    @property
    def shared_devices(self) -> SharedDeviceRepository: ...
    @property
    def handovers(self) -> HandoverRepository: ...
    @property
    def rosters(self) -> RosterRepository: ...
    @property
    def alerts(self) -> AlertRepository: ...
    @property
    def organisation_keys(self) -> OrganisationKeyRepository: ...


class Database(Protocol):
    def transaction(self) -> AbstractAsyncContextManager[Transaction]:
        """One atomic unit of work: committed on normal exit, rolled back on error. Raises
        ``DependencyUnavailable`` when the database cannot be reached or cannot write."""
        ...

    async def revision(self) -> str | None:
        """The schema revision the database is at."""
        ...

    async def organisation_keys_of(self, org_id: uuid.UUID) -> list[OrganisationKey]:
        """The organisation's committed key rows, read outside any transaction and without
        waiting for one (the keyring reads them while its caller holds a transaction)."""
        ...

    async def ping(self) -> None:
        """Readiness: returns when a transaction can run now, else ``DependencyUnavailable``."""
        ...

    async def close(self) -> None: ...


AfterCommit = Callable[[], Awaitable[Any]]
