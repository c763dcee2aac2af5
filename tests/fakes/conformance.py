"""mypy checks here that every fake implements its port (never run)."""

from __future__ import annotations

from chevet.ports import (
    AuditLog,
    Clock,
    ConversationRepository,
    Database,
    DeclarationPrinter,
    EntryRepository,
    EventBus,
    KeyStore,
    PasswordHasher,
    PersonRepository,
    ReportRepository,
    RetentionStore,
    SessionSecurityRepository,
    Transaction,
)
from tests.fakes.audit import FakeAuditLog
from tests.fakes.conversations import FakeConversations, FakeEntries
from tests.fakes.database import FakeDatabase, FakeTransaction
from tests.fakes.people import FakePeople, FakeSessionSecurity
from tests.fakes.reports import FakeReports
from tests.fakes.retention import FakeRetention
from tests.fakes.services import FakeBus, FakeClock, FakeDeclarations, FakeKeyStore, FakePasswords
from tests.fakes.tables import Tables


def _conforms(t: Tables, clock: FakeClock) -> None:  # pragma: no cover - checked by mypy only
    _database: Database = FakeDatabase()
    _transaction: Transaction = FakeTransaction(t)
    _conversations: ConversationRepository = FakeConversations(t)
    _entries: EntryRepository = FakeEntries(t)
    _audit: AuditLog = FakeAuditLog(t)
    _people: PersonRepository = FakePeople(t)
    _session_security: SessionSecurityRepository = FakeSessionSecurity(t)
    _retention: RetentionStore = FakeRetention(t)
    _reports: ReportRepository = FakeReports(t)
    _clock: Clock = clock
    _declarations: DeclarationPrinter = FakeDeclarations()
    _bus: EventBus = FakeBus()
    _keys: KeyStore = FakeKeyStore()
    _passwords: PasswordHasher = FakePasswords()
