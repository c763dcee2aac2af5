"""What every action needs, and the unit of work that makes an action atomic and audited."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

from chevet.app.attachments.config import AttachmentServices
from chevet.app.identity.organisation_keys import OrganisationKeyring
from chevet.app.messaging.group_commit import GroupCommit
from chevet.core import envelope
from chevet.core.audit import INSTALLATION_CHAIN, AuditEvent
from chevet.core.entities import Organisation, Person, RealtimeEvent, session_ended_event
from chevet.core.lockout import LockoutPolicy
from chevet.core.mail_outbox import MailRetry
from chevet.ports import (
    AuditSigner,
    AuditWitness,
    Clock,
    Database,
    DeclarationPrinter,
    DependencyUnavailable,
    EventBus,
    IdentityProvider,
    KeyStore,
    MailSubmitter,
    OrganisationKeyProvider,
    PasswordHasher,
    Transaction,
)
from chevet.ports.metrics import Metrics, NoMetrics

if TYPE_CHECKING:
    from chevet.app.messaging.messages import Send, SendResult

log = logging.getLogger("chevet.app")


@dataclass(frozen=True, slots=True)
class Policy:
    """Limits and timings the operator configures."""

    max_message_bytes: int = 65536
    session_lifetime: timedelta = timedelta(hours=12)
    lockout_threshold: int = 5
    lockout_duration: timedelta = timedelta(minutes=15)
    # Failures on one account from all sources before unknown devices are refused (core/lockout.py).
    account_lockout_threshold: int = 30
    invitation_lifetime: timedelta = timedelta(days=7)
    issuer: str = "Chevet"
    # Defaults of an organisation's session policy (each organisation may set its own).
    session_idle: timedelta = timedelta(minutes=30)
    reauth_window: timedelta = timedelta(minutes=10)
    # The origin people reach Chevet at: the WebAuthn relying party and its expected origin.
    public_url: str = "http://localhost:8000"
    # How often the retention purge runs: the latest a newly due deletion happens.
    purge_every: timedelta = timedelta(hours=24)

    @property
    def lockout(self) -> LockoutPolicy:
        seconds = self.lockout_duration.total_seconds()
        return LockoutPolicy(self.lockout_threshold, seconds, self.account_lockout_threshold, seconds)


@dataclass(frozen=True, slots=True)
class KeyCachePolicy:
    """How long and how many opened data keys stay in memory, and how long a provider that
    failed is left alone (app/identity/organisation_keys.py)."""

    seconds: float = 300.0
    entries: int = 4096
    unavailable_seconds: float = 5.0


@dataclass(frozen=True, slots=True)
class MailRelay:
    """The installation's SMTP relay for its own mail to people (invitations), and its From."""

    submitter: MailSubmitter
    sender: str
    retry: MailRetry = field(default_factory=MailRetry)


@dataclass(frozen=True, slots=True)
class Governance:
    """What the DPO and the operator configure for audit retention and the processing register."""

    audit_retention_days: int = 365
    controller: str = ""
    dpo_contact: str = ""
    hosting_provider: str = ""
    hosting_location: str = "France"
    backup_location: str = ""
    push_services: tuple[str, ...] = ()  # the Web Push services devices may be notified through


@dataclass(frozen=True, slots=True)
class Actor:
    """A signed-in person acting through one session, from one address."""

    person: Person
    organisation: Organisation
    session_id: uuid.UUID | None
    ip: str | None = None

    @property
    def id(self) -> uuid.UUID:
        return self.person.id

    @property
    def org_id(self) -> uuid.UUID:
        return self.organisation.id


@dataclass
class Unit:
    """One transaction of one action: its audit entries and the events to publish after commit."""

    tx: Transaction
    services: Services
    ip: str | None
    events: list[RealtimeEvent] = field(default_factory=list)

    async def audit(self, org_id: uuid.UUID | None, action: str, actor_id: uuid.UUID | None,
                    object_type: str, object_id: uuid.UUID | None, **detail: Any) -> None:
        ip = self.ip
        if ip is not None and actor_id is not None:
            # A person's address is kept sealed on sign-in entries only (see app/identity/addresses.py).
            if action.startswith("auth."):
                from chevet.app.identity import addresses

                detail[addresses.FIELD] = await addresses.seal(self.services, self.tx, org_id, actor_id, ip)
            ip = None
        await self.tx.audit.append(org_id or INSTALLATION_CHAIN,
                                   AuditEvent(action, actor_id, object_type, object_id, detail),
                                   self.services.clock.now(), ip)

    def publish(self, event: RealtimeEvent) -> None:
        self.events.append(event)

    def sessions_ended(self, org_id: uuid.UUID, person_id: uuid.UUID, session_ids: Sequence[uuid.UUID]) -> None:
        """After commit, every process closes the realtime streams of these sessions (the REST
        API refuses them from the commit on; a stream must not outlive them)."""
        if session_ids:
            self.publish(session_ended_event(org_id, person_id, session_ids))


@dataclass
class Services:
    db: Database
    keys: KeyStore
    bus: EventBus
    clock: Clock
    passwords: PasswordHasher
    declarations: DeclarationPrinter
    policy: Policy = field(default_factory=Policy)
    attachments: AttachmentServices | None = None
    psc: IdentityProvider | None = None
    signer: AuditSigner | None = None
    witness: AuditWitness | None = None
    governance: Governance = field(default_factory=Governance)
    mail_relay: MailRelay | None = None
    # The providers of organisation keys by name ("file", "pkcs11"), and the keyring over them.
    key_providers: dict[str, OrganisationKeyProvider] = field(default_factory=dict)
    key_cache: KeyCachePolicy = field(default_factory=KeyCachePolicy)
    org_keys: OrganisationKeyring = field(init=False, repr=False)
    # Sends waiting for their conversation's next batch (see group_commit.py and messages.py).
    sends: GroupCommit[uuid.UUID, Send, SendResult] = field(init=False, repr=False)
    # What the operator's monitoring is told (docs/metrics.md); nothing unless [metrics] is on.
    metrics: Metrics = field(default_factory=NoMetrics)

    def __post_init__(self) -> None:
        # Imported here: the messages module is built on this one.
        from chevet.app.messaging.messages import write_sends

        self.sends = GroupCommit(partial(write_sends, self), on_batch=lambda size: self.metrics.send_batch(size))
        c = self.key_cache
        self.org_keys = OrganisationKeyring(self.db, self.keys, self.clock, self.key_providers,
                                            cache_seconds=c.seconds, cache_entries=c.entries,
                                            unavailable_seconds=c.unavailable_seconds)

    @asynccontextmanager
    async def unit(self, ip: str | None = None) -> AsyncIterator[Unit]:
        async with self.db.transaction() as tx:
            unit = Unit(tx, self, ip)
            yield unit
        if unit.events:
            await self.publish_committed(unit.events)

    async def publish_committed(self, events: list[RealtimeEvent]) -> None:
        """Publish what a transaction committed. The action succeeded whatever happens here:
        answering an error would make the sender retry (or retype) what is already stored.
        Streams find what was not published in the database (DESIGN.md §7)."""
        try:
            await self.bus.publish(events)
        except DependencyUnavailable as exc:
            log.warning("committed events not published", extra={"dependency": exc.dependency,
                                                                  "events": len(events)})
        except Exception:
            log.exception("committed events not published", extra={"events": len(events)})

    # --- keys -----------------------------------------------------------------------------
    async def new_wrapped_key(self, org_id: uuid.UUID, conversation_id: uuid.UUID,
                              tx: Transaction) -> tuple[envelope.DataKey, bytes]:
        """A new conversation data key, wrapped by its organisation's key. ``tx`` is the open
        transaction the conversation is written in (an organisation's first key is made there)."""
        material = envelope.random_key()
        return envelope.DataKey(material), await self.org_keys.wrap(org_id, material,
                                                                    envelope.aad("ckey", conversation_id), tx)

    async def unwrap_key(self, org_id: uuid.UUID, conversation_id: uuid.UUID, wrapped: bytes) -> envelope.DataKey:
        """Raises ``OrganisationKeyUnavailable`` when the organisation's key provider does not answer."""
        return envelope.DataKey(await self.org_keys.unwrap(org_id, wrapped, envelope.aad("ckey", conversation_id)))

    def credential_key(self) -> bytes:
        return self.keys.derive("credentials")

    def credential_keys(self) -> list[bytes]:
        """Current credentials key first, then those of master keys not yet retired."""
        return self.keys.derive_all("credentials")
