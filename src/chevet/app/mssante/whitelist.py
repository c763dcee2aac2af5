"""The trust space's list of domains as the installation holds it: imported from the national
list, kept (the document itself, so that a restart enforces the same list before the first
refresh), refreshed by the gateway's job, and consulted by the SMTP listener for each sender.

The list is public data about operators, shared by the installation; no organisation's data
is in it. What is logged of an import is its size and date, never a domain.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from chevet.app.mssante import inbound
from chevet.app.mssante.gateway import Gateway
from chevet.app.services import Services
from chevet.core.errors import NotFound
from chevet.core.mssante import whitelist as wl

log = logging.getLogger("chevet.mssante.whitelist")
UNLISTED_REASON = "whitelist_unlisted"


class WhitelistStore(Protocol):
    """Where the last accepted list is kept (the document as received)."""

    def read(self) -> bytes | None: ...
    def write(self, data: bytes) -> None: ...
    def stamp(self) -> object: ...   # changes whenever the kept document does (another process imported one)


@dataclass(frozen=True, slots=True)
class ImportReport:
    domains: int
    operators: int
    generated_at: datetime


class TrustSpace:
    """The list in force, in memory, with the store behind it."""

    def __init__(self, store: WhitelistStore, namespace: str = wl.DEFAULT_NAMESPACE,
                 max_age: timedelta = timedelta(days=7)) -> None:
        self.store, self.namespace, self.max_age = store, namespace, max_age
        self.current: wl.Whitelist | None = None
        self._stamp: object = None

    def load(self) -> wl.Whitelist | None:
        """The kept list, read again (at start). A kept document that no longer reads (another
        namespace configured since) is not enforced: the listener then waits for a refresh."""
        self._stamp = self.store.stamp()
        data = self.store.read()
        if data is None:
            return None
        try:
            kept = wl.parse(data, self.namespace)
        except wl.WhitelistRefused as exc:
            log.warning("mssante whitelist kept copy unusable", extra={"reason": exc.reason})
            return self.current
        if wl.replaces(kept, self.current):
            self.current = kept
        return self.current

    def import_document(self, data: bytes) -> ImportReport:
        """Check and adopt a new list. ``WhitelistRefused`` (and nothing changes) when it does not
        read, is in another namespace, or is older than the list in force."""
        new = wl.parse(data, self.namespace)
        if not wl.replaces(new, self.current):
            raise wl.WhitelistRefused("older_than_current")
        self.store.write(data)
        self.current, self._stamp = new, self.store.stamp()
        log.info("mssante whitelist imported", extra={"domains": new.size, "operators": new.operators})
        return ImportReport(new.size, new.operators, new.generated_at)

    def verdict(self, domain: str | None, now: datetime) -> wl.Verdict:
        """Judged against the list in force, read again first if another process (``chevet
        mssante refresh-whitelist``) imported one since."""
        if self.store.stamp() != self._stamp:
            self.load()
        return wl.verdict(self.current, domain, now, self.max_age)


async def quarantine_unlisted(services: Services, gw: Gateway, mailbox: str, raw: bytes) -> inbound.IngestResult:
    """A mail from outside the trust space, accepted by the listener in "quarantine" mode: kept,
    sealed, for the administrator, never integrated nor answered (no receipt goes outside)."""
    box = gw.mailbox(mailbox)
    async with services.db.transaction() as tx:
        org = await tx.organisations.by_slug(box.org_slug)
    if org is None:
        raise NotFound("organisation_not_found")
    return await inbound.quarantine(services, org, box, raw, UNLISTED_REASON)
