"""The interfaces the application needs from the outside world.

Adapters implement them (SQLite/PostgreSQL, key file, in-process or Redis bus, argon2); the
application depends on nothing else. Every repository method that touches an organisation's
data takes that organisation's id: scoping is part of the signature, not an afterthought.

One module per noun, every name re-exported here (``from chevet.ports import X``):
``database`` (the transaction and its repositories), ``identity``, ``messaging``, ``attachments``,
``governance``, ``signalement``, ``mssante`` (each feature's repositories), ``audit``, ``keys``,
``organisation_keys``, ``bus``, ``blobs``, ``mail``, ``push``, ``clock``, and ``errors`` (what adapters raise).
"""

from __future__ import annotations

from chevet.ports.alerts import AlertRepository
from chevet.ports.attachments import AttachmentRepository, MediaProcessor, VirusScanner
from chevet.ports.audit import AuditLog, AuditSigner, AuditTrail, AuditWitness
from chevet.ports.blobs import BlobStore
from chevet.ports.bus import EventBus
from chevet.ports.clock import Clock
from chevet.ports.database import AfterCommit, Database, Transaction
from chevet.ports.errors import DependencyUnavailable, PortError
from chevet.ports.governance import ArchiveStore, BreachLog, RetentionStore
from chevet.ports.handovers import HandoverRepository
from chevet.ports.identity import (
    ChallengeRepository,
    IdentityProvider,
    InvitationRepository,
    OrganisationRepository,
    PasskeyRepository,
    PasswordHasher,
    PersonRepository,
    ProviderLogin,
    RecoveryCodeRepository,
    SessionRepository,
    SessionSecurityRepository,
    SignInFailureRepository,
    TeamRepository,
)
from chevet.ports.keys import KeyStore, SealedBlobRepository, SealedItem
from chevet.ports.mail import MailOutbox, MailSubmitter
from chevet.ports.messaging import ConversationRepository, EntryRepository, PreferenceRepository
from chevet.ports.mssante import DirectoryRepository, MssanteRepository
from chevet.ports.organisation_keys import (
    OrganisationKey,
    OrganisationKeyProvider,
    OrganisationKeyRepository,
    OrganisationKeyUnavailable,
)
from chevet.ports.push import PushGateway, PushRepository
from chevet.ports.rosters import RosterRepository
from chevet.ports.shared_devices import SharedDeviceRepository
from chevet.ports.signalement import DeclarationPrinter, ReportRepository
from chevet.ports.uploads import UploadRepository

__all__ = [
    "AfterCommit",
    "AlertRepository",
    "ArchiveStore",
    "AttachmentRepository",
    "AuditLog",
    "AuditSigner",
    "AuditTrail",
    "AuditWitness",
    "BlobStore",
    "BreachLog",
    "ChallengeRepository",
    "Clock",
    "ConversationRepository",
    "Database",
    "DeclarationPrinter",
    "DependencyUnavailable",
    "DirectoryRepository",
    "EntryRepository",
    "EventBus",
    "HandoverRepository",
    "IdentityProvider",
    "InvitationRepository",
    "KeyStore",
    "MailOutbox",
    "MailSubmitter",
    "MediaProcessor",
    "MssanteRepository",
    "OrganisationKey",
    "OrganisationKeyProvider",
    "OrganisationKeyRepository",
    "OrganisationKeyUnavailable",
    "OrganisationRepository",
    "PasskeyRepository",
    "PasswordHasher",
    "PersonRepository",
    "PortError",
    "PreferenceRepository",
    "ProviderLogin",
    "PushGateway",
    "PushRepository",
    "RecoveryCodeRepository",
    "ReportRepository",
    "RetentionStore",
    "RosterRepository",
    "SealedBlobRepository",
    "SealedItem",
    "SessionRepository",
    "SessionSecurityRepository",
    "SharedDeviceRepository",
    "SignInFailureRepository",
    "TeamRepository",
    "Transaction",
    "UploadRepository",
    "VirusScanner",
]
