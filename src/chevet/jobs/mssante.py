"""The MSSanté gateway worker: outbox delivery, mailbox fetching (IDLE or polling), the
optional SMTP listener and the daily directory refresh. Runs as ``chevet mssante run``,
beside ``chevet serve``; several workers may run at once (the outbox uses leases)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

from chevet.app import directory, mssante_documents, mssante_inbound, mssante_outbox
from chevet.bootstrap import Installation
from chevet.bootstrap_mssante import (
    GatewayRuntime,
    crl_download_folder,
    discard,
    download_crls,
    fetch_source,
    file_chunks,
    listener_context,
)
from chevet.core.errors import ChevetError
from chevet.core.mssante.delivery import MailError
from chevet.core.mssante.directory import split_lines

log = logging.getLogger("chevet.mssante")


async def deliver_once(installation: Installation, runtime: GatewayRuntime) -> mssante_outbox.DeliveryReport:
    """Deliver what is due now, batch after batch (a backlog after an outage drains at once)."""
    total = mssante_outbox.DeliveryReport()
    for _ in range(200):
        r = await mssante_outbox.deliver_due(installation.services, runtime.gateway, runtime.submitter)
        total.sent, total.retried, total.dead = total.sent + r.sent, total.retried + r.retried, total.dead + r.dead
        if r.sent + r.retried + r.dead < 5:
            break
    return total


async def fetch_once(installation: Installation, runtime: GatewayRuntime, address: str) -> int:
    """Fetch and integrate the new mail of one mailbox; returns how many mails were read."""
    client = runtime.imap(address)
    if client is None:
        return 0
    try:
        return await _fetch_with(installation, runtime, address, client)
    finally:
        await client.close()


async def _fetch_with(installation: Installation, runtime: GatewayRuntime, address: str, client: object) -> int:
    from chevet.bootstrap_mssante import ImapMailbox

    assert isinstance(client, ImapMailbox)
    services = installation.services
    async with services.db.transaction() as tx:
        cursor = await tx.mssante.cursor(address)
    uid_validity, mails = await client.fetch(cursor)
    for uid, raw in mails:
        result = await mssante_inbound.ingest(services, runtime.gateway, address, raw)
        # The cursor moves only after the mail is recorded: a crash fetches it again, and the
        # Message-ID check makes that second copy a no-op.
        async with services.db.transaction() as tx:
            await tx.mssante.set_cursor(address, uid_validity, uid)
        await client.mark_seen(uid)
        log.info("mssante mail received", extra={"mailbox": address, "state": result.state.value,
                                                  "reason": result.reason})
    return len(mails)


async def _mailbox_loop(installation: Installation, runtime: GatewayRuntime, address: str) -> None:
    from chevet.bootstrap_mssante import ImapMailbox

    ms = runtime.settings
    client = runtime.imap(address)
    if client is None:
        return
    assert isinstance(client, ImapMailbox)
    backoff = 5.0
    while True:
        try:
            got = await _fetch_with(installation, runtime, address, client)
            backoff = 5.0
            if got:
                continue
            if ms.idle and client.supports_idle:
                await client.idle(ms.poll_seconds)
            else:
                await asyncio.sleep(ms.poll_seconds)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the loop must outlive a bad connection, a database restart…
            code = exc.code if isinstance(exc, MailError) else type(exc).__name__
            log.warning("mssante mailbox unavailable", extra={"mailbox": address, "code": code})
            await client.close()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, ms.poll_seconds * 5)


async def _every(seconds: float, what: str, fn: Callable[[], Awaitable[object]]) -> None:
    while True:
        try:
            await fn()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a failed pass is retried at the next tick, never fatal
            code = exc.code if isinstance(exc, (ChevetError, MailError)) else type(exc).__name__
            log.warning("mssante job failed", extra={"job": what, "error": code})
        await asyncio.sleep(seconds)


async def refresh_directory(installation: Installation, runtime: GatewayRuntime) -> directory.ImportReport | None:
    ms = runtime.settings
    if not ms.directory_source:
        return None
    workdir = installation.settings.data_dir / "tmp"
    path = await asyncio.to_thread(fetch_source, ms.directory_source, ms.directory_trust_anchor, workdir)
    try:
        return await directory.import_extraction(installation.services, split_lines(file_chunks(path)),
                                                 ms.directory_source)
    finally:
        discard(Path(path), ms.directory_source)


async def refresh_crls(installation: Installation, runtime: GatewayRuntime) -> int:
    """Fetch the CRLs from the addresses the administrator configured (none: nothing fetched)."""
    urls = runtime.settings.crl_urls
    if not urls:
        return 0
    return await asyncio.to_thread(download_crls, urls, crl_download_folder(installation.settings))


async def run(installation: Installation, runtime: GatewayRuntime) -> None:
    ms = runtime.settings
    await mssante_documents.adopt_legacy_documents(installation.services)
    tasks = [asyncio.create_task(_every(ms.outbox_seconds, "outbox", lambda: deliver_once(installation, runtime)))]
    for box in ms.mailboxes:
        if box.fetch:
            tasks.append(asyncio.create_task(_mailbox_loop(installation, runtime, box.address)))
    if ms.crl_urls:
        tasks.append(asyncio.create_task(_every(ms.crl_refresh_hours * 3600, "crl",
                                                lambda: refresh_crls(installation, runtime))))
    if ms.directory_source:
        tasks.append(asyncio.create_task(_every(ms.directory_refresh_hours * 3600, "directory",
                                                lambda: refresh_directory(installation, runtime))))
    server = None
    tls = listener_context(ms)
    if ms.listener is not None and tls is not None:
        from chevet.bootstrap_mssante import start_listener

        async def deliver(mailbox: str, raw: bytes) -> None:
            await mssante_inbound.ingest(installation.services, runtime.gateway, mailbox, raw)

        server = await start_listener(ms.listener.host, ms.listener.port, tls, {b.address for b in ms.mailboxes},
                                      deliver, ms.listener.max_message_bytes or ms.max_message_bytes)
    log.info("mssante gateway started", extra={"mailboxes": len(ms.mailboxes)})
    try:
        await asyncio.gather(*tasks)
    finally:
        for t in tasks:
            t.cancel()
        if server is not None:
            server.close()
