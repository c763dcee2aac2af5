"""An organisation leaving the installation: its keys destroyed, and a signed statement of it.

After the organisation has taken its archive (``chevet export``), ``shred`` deactivates its
people (their sessions end), destroys every version of its key through the provider that holds
it (a token erases its object; a key of the key file is erased from the database), deletes every
data key wrapped for it (conversations, reports, people's sign-in address keys, inbound MSSanté
messages), drops what this process holds of them in memory, has the key backup rewritten, and
writes an entry on the installation's audit chain. What is still asked of it afterwards is
refused in words (``organisation_shredded``), never re-keyed. Everything of the organisation
left in the database, the blob store and database backups can then no longer be opened: its
rows stay, unreadable, for whoever removes them later.

The statement (``core/shred_statement.py``) says what was destroyed and how much became
unreadable; it is signed with the installation's audit key, so that the DPO can check it with
openssl. A shred interrupted (a token unavailable mid-way) is run again: versions already
destroyed are named as such, and what remains is destroyed.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from chevet.app.governance.organisation_key_rotation import destroy_version, org_items
from chevet.app.identity.people import deactivate_in
from chevet.app.services import Services
from chevet.core.audit import INSTALLATION_CHAIN
from chevet.core.entities import Organisation, PersonStatus
from chevet.core.errors import InvalidInput
from chevet.core.shred_statement import DestroyedKey, ShredStatement, Unreadable, signed_document, text
from chevet.ports.organisation_keys import DESTROYED

EXPORTED = "organisation.exported"

KeyBackup = Callable[[], Awaitable[bool]]
"""Rewrites the configured key backup without the destroyed keys; False when none is configured."""


@dataclass(frozen=True, slots=True)
class Shredded:
    statement: str        # the exact UTF-8 text that is signed
    signature: bytes      # Ed25519 over ``statement.encode()``
    public_key: bytes     # the installation audit key's public half (raw, 32 bytes)
    document: str         # statement, signature and public key, as printed
    unreadable: Unreadable
    keys: list[DestroyedKey]


async def last_export(services: Services, org_id: uuid.UUID) -> datetime | None:
    """When the organisation's archive was last exported (installation chain), if ever."""
    async with services.db.transaction() as tx:
        found = await tx.audit_trail.search(INSTALLATION_CHAIN, object_id=org_id, actions=[EXPORTED], limit=1)
    return found[0].at if found else None


async def count_unreadable(services: Services, org_id: uuid.UUID) -> Unreadable:
    """What the organisation's keys protect: its conversations and their messages, its reports,
    the files of both in the blob store, and the data keys themselves."""
    data_keys = legacy = 0
    async for _name, items in org_items(services, org_id, 1000):
        data_keys += len(items)
        legacy += sum(1 for i in items if i.blob[:1] in (b"\x01", b"\x02"))
    conversations = messages = files = reports = 0
    async with services.db.transaction() as tx:
        for conv, _last, _pair in await tx.archive.conversations(org_id):
            conversations += 1
            messages += await tx.retention.count_entries(conv.id)
            files += len(await tx.attachments.blobs_of_conversation(conv.id))
        for r in await tx.reports.of_organisation(org_id):
            reports += 1
            files += len(await tx.reports.files(r.id))
    return Unreadable(conversations=conversations, messages=messages, reports=reports, files=files,
                      data_keys=data_keys, legacy_data_keys=legacy)


async def _discard_data_keys(services: Services, org_id: uuid.UUID) -> int:
    """Delete every data key wrapped for the organisation, batch by batch (each blob only if it
    is still the one read: a key replaced meanwhile is read again by the next pass)."""
    removed = 0
    while True:
        batches = [(name, items) async for name, items in org_items(services, org_id, 500)]
        if not batches:
            return removed
        before = removed
        for _name, items in batches:
            async with services.unit() as u:
                for item in items:
                    if await u.tx.sealed_blobs.discard(item):
                        removed += 1
        if removed == before:  # every one changed under us, pass after pass: say so, do not spin
            raise InvalidInput("org_key_busy")


async def _deactivate_people(services: Services, org_id: uuid.UUID) -> int:
    """Before its keys go: nobody of the organisation can sign in any more, and every session
    open ends now (what they would open next could not be read)."""
    async with services.unit() as u:
        people = [p for p in await u.tx.people.search(org_id, "", 1_000_000) if p.status != PersonStatus.DEACTIVATED]
        for p in people:
            await deactivate_in(u, org_id, p.id, None, reason="organisation_shredded")
    return len(people)


async def shred(services: Services, org: Organisation, *, without_export: bool = False,
                key_backup: KeyBackup | None = None, installation: str = "") -> Shredded:
    """Destroy the organisation's keys for good (see the module's docstring). Refused without
    an archive export first (unless ``without_export``) and without the installation's audit
    key (the statement could not be signed)."""
    signer = services.signer
    if signer is None:
        raise InvalidInput("shred_no_audit_key")
    exported = await last_export(services, org.id)
    if exported is None and not without_export:
        raise InvalidInput("shred_not_exported", slug=org.slug)
    unreadable = await count_unreadable(services, org.id)
    deactivated = await _deactivate_people(services, org.id)
    destroyed: list[DestroyedKey] = []
    for key in await services.org_keys.refresh(org.id):
        said = ""
        if key.state != DESTROYED:
            said = await destroy_version(services, key)
        destroyed.append(DestroyedKey(key.version, key.provider, key.reference, said, key.created_at,
                                      key.destroyed_at or services.clock.now()))
    discarded = await _discard_data_keys(services, org.id)
    services.org_keys.forget(org.id)
    rewritten = await key_backup() if key_backup is not None else False
    at = services.clock.now()
    statement = ShredStatement(org.id, org.slug, org.name, at, destroyed, unreadable, exported, installation,
                               signer.key_id, rewritten)
    body = text(statement)
    signature = signer.sign(body.encode("utf-8"))
    async with services.unit() as u:
        await u.audit(None, "organisation.shredded", None, "organisation", org.id,
                      versions=[k.version for k in destroyed], providers=sorted({k.provider for k in destroyed}),
                      data_keys=discarded, people_deactivated=deactivated,
                      conversations=unreadable.conversations, messages=unreadable.messages,
                      reports=unreadable.reports, files=unreadable.files, without_export=exported is None,
                      key_backup_rewritten=rewritten,
                      statement_sha256=hashlib.sha256(body.encode("utf-8")).hexdigest())
    return Shredded(body, signature, signer.public_key, signed_document(body, signature, signer.public_key),
                    unreadable, destroyed)
