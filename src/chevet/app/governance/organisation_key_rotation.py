"""Rotation of an organisation's key, and its migration between providers (the key file, a
PKCS#11 token): one operation, online and resumable.

``rotate`` creates version N+1 on the chosen provider (the same provider: a rotation; another:
a migration) and makes it current, so that every process wraps new data keys with it once its
keyring has refreshed the organisation's rows (a few seconds: rotation waits a grace period for
that). It then re-wraps every data key of the organisation — the data keys, never the content —
in small transactions, each blob swapped only if it is still the one read (a conversation
shredded meanwhile stays shredded). Legacy blobs still wrapped by the installation master key
are brought under the organisation's key on the way.

Interrupted (a crash, a token pulled out), it is simply run again: a rotation whose current
version is already on the requested provider, with blobs still under older versions, is
resumed rather than started anew, and only what is not yet under the current version is
touched. Once nothing remains under an older version, the content is re-opened through the new
key (every data key, a sample of messages per conversation, each report) and only then are the
older versions destroyed (unless asked to keep them). Each step is audited on the organisation's
chain, with counts only.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from chevet.app.messaging.views import body_of
from chevet.app.services import Services
from chevet.app.signalement.access import open_json
from chevet.core.envelope import DataKey
from chevet.core.errors import IntegrityError, InvalidInput
from chevet.ports import SealedItem
from chevet.ports.organisation_keys import (
    CURRENT,
    DESTROYED,
    PREVIOUS,
    OrganisationKey,
    OrganisationKeyUnavailable,
)

log = logging.getLogger("chevet.app.keys")

BATCH = 100
SAMPLE = 3          # messages re-opened per conversation when verifying
PASSES = 3          # re-wrap passes before giving up (processes still wrapping with an old version)
LEGACY = "master"   # in counts: blobs still wrapped by the installation master key
DAMAGED = "damaged"  # in counts: blobs of no known format
CONVERSATION_KEYS = "conversation_key.wrapped"
REPORT_KEYS = "report_key.wrapped"

Progress = Callable[[str, int, int], None]
Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Target:
    """Where the organisation's key is to be held: ``file``, or ``pkcs11`` on a named token."""

    provider: str
    token: str | None = None

    @classmethod
    def parse(cls, value: str) -> Target:
        """``file`` or ``token:<name>`` (the CLI's ``--to``)."""
        if value == "file":
            return cls("file")
        kind, _, name = value.partition(":")
        if kind == "token" and name:
            return cls("pkcs11", name)
        raise InvalidInput("org_key_target_invalid", value=value)

    def holds(self, key: OrganisationKey) -> bool:
        return key.provider == self.provider and token_of(key) == self.token

    def __str__(self) -> str:
        return "file" if self.provider == "file" else f"token:{self.token}"


def token_of(key: OrganisationKey) -> str | None:
    """The configured token a ``pkcs11`` key is on (its reference is ``<token>/<label>``)."""
    return key.reference.split("/", 1)[0] if key.provider == "pkcs11" else None


@dataclass
class Verification:
    data_keys: int = 0
    conversations: int = 0
    messages: int = 0
    reports: int = 0
    failed: int = 0


@dataclass
class RotationReport:
    org_id: uuid.UUID
    version: int
    target: Target
    resumed: bool
    rewrapped: dict[str, int] = field(default_factory=dict)
    unopenable: int = 0                          # blobs no key opens: left as they are, reported
    remaining: dict[str, int] = field(default_factory=dict)   # by version ("2", …, "master")
    verification: Verification = field(default_factory=Verification)
    destroyed: list[int] = field(default_factory=list)
    kept: list[int] = field(default_factory=list)

    @property
    def done(self) -> bool:
        return not any(self.remaining.values()) and not self.verification.failed and not self.unopenable


@dataclass(frozen=True, slots=True)
class VersionStatus:
    key: OrganisationKey
    data_keys: int
    available: bool | None       # None: not checked (destroyed)


@dataclass(frozen=True, slots=True)
class KeyStatus:
    org_id: uuid.UUID
    versions: list[VersionStatus]
    legacy: int                  # data keys still wrapped by the installation master key

    @property
    def current(self) -> OrganisationKey | None:
        return next((v.key for v in self.versions if v.key.state == CURRENT), None)


# --- reading -------------------------------------------------------------------------------

async def data_key_columns(services: Services) -> list[str]:
    """The registered columns holding data keys wrapped for an organisation."""
    async with services.db.transaction() as tx:
        return tx.sealed_blobs.data_key_columns()


async def org_items(services: Services, org_id: uuid.UUID,
                    batch: int = BATCH) -> AsyncIterator[tuple[str, list[SealedItem]]]:
    """Every data-key blob of the organisation, batch by batch (one short read each)."""
    for name in await data_key_columns(services):
        after: tuple[Any, ...] | None = None
        while True:
            async with services.db.transaction() as tx:
                items = await tx.sealed_blobs.batch(name, after, batch, org_id=org_id)
            if items:
                yield name, items
            if len(items) < batch:
                break
            after = items[-1].key


def label_of(services: Services, blob: bytes) -> str:
    """The version a blob is wrapped by, as counts name it: "2", "master" (legacy) or
    "damaged" (no known format: left for the integrity checks)."""
    try:
        version = services.org_keys.version_of(blob)
    except IntegrityError:
        return DAMAGED
    return LEGACY if version is None else str(version)


async def count_by_version(services: Services, org_id: uuid.UUID) -> dict[str, int]:
    """How many of the organisation's data keys each version wraps ("master": legacy blobs)."""
    counts: dict[str, int] = {}
    async for _name, items in org_items(services, org_id, 1000):
        for item in items:
            label = label_of(services, item.blob)
            counts[label] = counts.get(label, 0) + 1
    return counts


async def status(services: Services, org_id: uuid.UUID) -> KeyStatus:
    """The organisation's key versions, how many data keys each still wraps, and whether its
    provider answers now."""
    keys = await services.org_keys.refresh(org_id)
    counts = await count_by_version(services, org_id)
    out = []
    for k in keys:
        available: bool | None = None
        if k.state != DESTROYED:
            available = await _available(services, k)
        out.append(VersionStatus(k, counts.get(str(k.version), 0), available))
    return KeyStatus(org_id, out, counts.get(LEGACY, 0))


async def _available(services: Services, key: OrganisationKey) -> bool:
    try:
        provider = services.org_keys.provider(key.provider)
        await asyncio.to_thread(provider.check, key)
        return True
    except (OrganisationKeyUnavailable, InvalidInput):
        return False


# --- rotation ------------------------------------------------------------------------------

async def rotate(services: Services, org_id: uuid.UUID, target: Target | None = None, progress: Progress | None = None,
                 *, keep_old: bool = False, grace: float = 5.0, batch: int = BATCH,
                 sleep: Sleep = asyncio.sleep) -> RotationReport:
    """Bring every data key of the organisation under a current version held by ``target``
    (default: where the current version is, i.e. a plain rotation), verify, destroy the rest."""
    keys = await services.org_keys.refresh(org_id)
    if keys and all(k.state == DESTROYED for k in keys):
        raise InvalidInput("org_key_shredded")
    if not keys:
        # Only legacy blobs so far: the organisation's first key is made the way a server
        # makes it (version 1, file), so that a server doing so at the same moment agrees.
        await services.org_keys.current(org_id)
        keys = await services.org_keys.refresh(org_id)
    current = next((k for k in keys if k.state == CURRENT), None) or max(keys, key=lambda k: k.version)
    if target is None:
        target = Target(current.provider, token_of(current))
    _check_target(services, target)
    # A rotation under way: the current version is where it is asked for, and an older version
    # (not destroyed) still wraps data keys, or legacy ones remain beside it.
    counts = await count_by_version(services, org_id)
    resumed = target.holds(current) and any(k.state == PREVIOUS for k in keys) \
        and any(n for label, n in counts.items() if label != str(current.version))
    if not resumed:
        current = await _new_version(services, org_id, target)
        await services.org_keys.refresh(org_id)
        await sleep(max(0.0, grace))  # other processes' keyrings refresh and wrap with it
    await services.org_keys.refresh(org_id)
    report = RotationReport(org_id, current.version, target, resumed)
    async with services.unit() as u:
        await u.audit(org_id, "org_key.rewrap_started", None, "organisation", org_id, version=current.version,
                      provider=current.provider, resumed=resumed)
    for attempt in range(PASSES):
        await _rewrap_pass(services, org_id, current.version, report, progress, batch)
        report.remaining = {k: v for k, v in (await count_by_version(services, org_id)).items()
                            if k != str(current.version)}
        if not any(report.remaining.values()) or report.unopenable:
            break
        if attempt < PASSES - 1:
            await sleep(max(1.0, grace))
    if not any(report.remaining.values()) and not report.unopenable:
        report.verification = await verify(services, org_id, progress)
    if report.done:
        await _retire(services, org_id, current.version, keep_old, report)
    async with services.unit() as u:
        await u.audit(org_id, "org_key.rewrapped", None, "organisation", org_id, version=current.version,
                      provider=current.provider, resumed=resumed, rewrapped=sum(report.rewrapped.values()),
                      unopenable=report.unopenable, remaining=dict(report.remaining),
                      verified_data_keys=report.verification.data_keys,
                      verified_messages=report.verification.messages, verified_reports=report.verification.reports,
                      verification_failures=report.verification.failed, destroyed=report.destroyed,
                      kept=report.kept)
    return report


def _check_target(services: Services, target: Target) -> None:
    if target.provider == "pkcs11" and not target.token:
        raise InvalidInput("org_key_target_invalid", value=str(target))
    services.org_keys.provider(target.provider)  # InvalidInput when not configured here


async def _new_version(services: Services, org_id: uuid.UUID, target: Target) -> OrganisationKey:
    """Version N+1 on the target, made current in one transaction with the older ones made
    previous (the organisation has a key already: see ``rotate``)."""
    async with services.unit() as u:
        keys = await u.tx.organisation_keys.of(org_id)
        version = max((k.version for k in keys), default=0) + 1
        for old in keys:
            if old.state == CURRENT:
                await u.tx.organisation_keys.set_state(org_id, old.version, PREVIOUS)
        key = await services.org_keys.create_version(u.tx, org_id, version, target.provider, target.token, CURRENT)
        if not target.holds(key) or key.state != CURRENT:
            raise InvalidInput("org_key_busy")  # another rotation stored that version meanwhile
        await u.audit(org_id, "org_key.created", None, "organisation", org_id, version=version,
                      provider=key.provider, reference=key.reference,
                      previous=[k.version for k in keys if k.state == CURRENT])
    return key


async def _rewrap_pass(services: Services, org_id: uuid.UUID, version: int, report: RotationReport,
                       progress: Progress | None, batch: int) -> None:
    ring = services.org_keys
    total = sum(n for label, n in (await count_by_version(services, org_id)).items() if label != str(version))
    done = 0
    if progress and total:
        progress("re-wrap", 0, total)
    async for name, items in org_items(services, org_id, batch):
        moved: list[tuple[SealedItem, bytes]] = []
        for item in items:
            if label_of(services, item.blob) == str(version):
                continue
            done += 1
            try:
                data_key = await ring.unwrap(org_id, item.blob, item.aad)
            except IntegrityError:
                report.unopenable += 1  # damaged: left for the integrity checks, never overwritten
                continue
            new = await ring.wrap(org_id, data_key, item.aad)
            if ring.version_of(new) != version:  # this keyring has not seen the new version yet
                await ring.refresh(org_id)
                new = await ring.wrap(org_id, data_key, item.aad)
                if ring.version_of(new) != version:
                    raise InvalidInput("org_key_busy")
            moved.append((item, new))
        if moved:
            async with services.unit() as u:
                for item, new in moved:
                    if await u.tx.sealed_blobs.replace(item, new):
                        report.rewrapped[name] = report.rewrapped.get(name, 0) + 1
        if progress and total:
            progress("re-wrap", min(done, total), total)


async def verify(services: Services, org_id: uuid.UUID, progress: Progress | None = None) -> Verification:
    """Re-open the organisation's content through its current key, with every cached key
    dropped first so that the provider itself is asked: every data key, then with them a sample
    of each conversation's messages and each report's content."""
    ring = services.org_keys
    ring.forget(org_id)
    out = Verification()
    async for name, items in org_items(services, org_id):
        for item in items:
            try:
                key = DataKey(await ring.unwrap(org_id, item.blob, item.aad))
                out.data_keys += 1
                if name == CONVERSATION_KEYS:
                    conv_id = item.key[0]
                    async with services.db.transaction() as tx:
                        entries = [e for e in await tx.archive.entries(conv_id, 0, 50) if e.body_sealed][:SAMPLE]
                    for e in entries:
                        body_of(conv_id, key, e)
                        out.messages += 1
                    out.conversations += 1
                elif name == REPORT_KEYS:
                    async with services.db.transaction() as tx:
                        r = await tx.reports.get(org_id, item.key[0])
                    if r is not None:
                        open_json(key, "report", r.id, r.content_sealed)
                        out.reports += 1
            except IntegrityError:
                out.failed += 1
                log.error("content does not open after rotation", extra={"column": name})
        if progress:
            progress("verify", out.data_keys + out.failed, 0)
    return out


async def _retire(services: Services, org_id: uuid.UUID, version: int, keep_old: bool,
                  report: RotationReport) -> None:
    """Destroy the older versions nothing is wrapped by any more (or keep them, previous)."""
    for key in await services.org_keys.refresh(org_id):
        if key.version == version or key.state == DESTROYED:
            continue
        if keep_old:
            report.kept.append(key.version)
            continue
        await destroy_version(services, key)
        report.destroyed.append(key.version)


async def destroy_version(services: Services, key: OrganisationKey) -> str:
    """Destroy one version on its provider, then record it destroyed (which also erases a file
    key's wrapped bytes). Provider first: a failure leaves the version usable and recorded as it
    was, and running again destroys it then."""
    provider = services.org_keys.provider(key.provider)
    said = await asyncio.to_thread(provider.destroy, key)
    async with services.unit() as u:
        await u.tx.organisation_keys.set_state(key.org_id, key.version, DESTROYED, services.clock.now())
        await u.audit(key.org_id, "org_key.destroyed", None, "organisation", key.org_id, version=key.version,
                      provider=key.provider, reference=key.reference)
    services.org_keys.forget(key.org_id)
    return said
