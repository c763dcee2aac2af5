"""The MSSanté gateway's work: outbox delivery, mailbox fetching (IDLE or polling), the
optional SMTP listener, the directory and CRL refreshes.

It runs as supervised tasks of one event loop: inside ``chevet serve`` on a one-box installation
(its events then reach the open pages through the server's own bus), or in ``chevet mssante
run`` when a shared bus (Redis) carries them (``bootstrap_mssante.runs_in_server``). Several
processes may deliver the outbox at once (leases); each mailbox is fetched by one process at a
time (``MailboxLock``)."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable

from chevet.app.mssante import directory, documents, inbound, receipts
from chevet.app.mssante import outbox as mssante_outbox
from chevet.app.mssante import whitelist as mssante_whitelist
from chevet.bootstrap import Installation
from chevet.bootstrap.mssante import GatewayRuntime, MailboxClient, directory_extraction, download_configured_crls
from chevet.core.errors import ChevetError
from chevet.core.mssante.delivery import MailError
from chevet.core.mssante.directory import split_lines

log = logging.getLogger("chevet.mssante")


async def deliver_once(installation: Installation, runtime: GatewayRuntime,
                       stopping: asyncio.Event | None = None) -> mssante_outbox.DeliveryReport:
    """Deliver what is due now, batch after batch (a backlog after an outage drains at once).
    A shutdown (``stopping``) waits for the batch in hand, never for the whole backlog."""
    runtime.bind_psc(installation.services)
    total = mssante_outbox.DeliveryReport()
    for _ in range(200):
        if stopping is not None and stopping.is_set():
            break
        r = await mssante_outbox.deliver_due(installation.services, runtime.gateway, runtime.submitter)
        total.sent, total.retried, total.dead = total.sent + r.sent, total.retried + r.retried, total.dead + r.dead
        if r.sent + r.retried + r.dead < 5:
            break
    # Error receipts of mail quarantined before any exchange existed: their own small outbox.
    if stopping is None or not stopping.is_set():
        sent, retried, dead = await receipts.deliver_unattached(installation.services, runtime.gateway,
                                                                 runtime.submitter)
        total.sent, total.retried, total.dead = total.sent + sent, total.retried + retried, total.dead + dead
    installation.services.metrics.job_succeeded("mssante_outbox")
    return total


async def fetch_once(installation: Installation, runtime: GatewayRuntime, address: str) -> int:
    """Fetch and integrate the new mail of one mailbox; returns how many mails were read."""
    runtime.bind_psc(installation.services)
    client = runtime.imap(address)
    if client is None:
        return 0
    try:
        return await _fetch_with(installation, runtime, address, client)
    finally:
        await client.close()


async def _fetch_with(installation: Installation, runtime: GatewayRuntime, address: str,
                      client: MailboxClient) -> int:
    services = installation.services
    uid_validity, mails = await client.fetch(await inbound.cursor(services, address))
    for uid, raw in mails:
        result = await inbound.ingest(services, runtime.gateway, address, raw)
        await inbound.advance_cursor(services, address, uid_validity, uid)
        await client.mark_seen(uid)
        log.info("mssante mail received", extra={"mailbox": address, "state": result.state.value,
                                                  "reason": result.reason})
    return len(mails)


RESTART_FIRST, RESTART_MAX = 1.0, 60.0


def _code(exc: BaseException) -> str:
    """What a log line may say of a failure: a code or an exception's type, never its text
    (an operator's answer may repeat an address, a mail's subject…)."""
    return exc.code if isinstance(exc, (ChevetError, MailError)) else type(exc).__name__


async def _pause(stopping: asyncio.Event, seconds: float) -> None:
    """Sleep, but wake at once when the gateway is stopping."""
    try:
        await asyncio.wait_for(stopping.wait(), seconds)
    except TimeoutError:
        pass


async def _mailbox_loop(installation: Installation, runtime: GatewayRuntime, address: str,
                        stopping: asyncio.Event) -> None:
    ms = runtime.settings
    client = runtime.imap(address)
    if client is None:   # no IMAP for this mailbox (the listener receives its mail)
        await stopping.wait()
        return
    lock = runtime.fetch_lock(address)
    backoff = 5.0
    try:
        while not stopping.is_set():
            if lock is not None and not lock.acquire():
                # Another process fetches this mailbox; take over if it stops.
                await _pause(stopping, ms.poll_seconds)
                continue
            try:
                got = await _fetch_with(installation, runtime, address, client)
                backoff = 5.0
                if got:
                    continue
                if ms.idle and client.supports_idle:
                    await client.idle(ms.poll_seconds)
                else:
                    await _pause(stopping, ms.poll_seconds)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the loop must outlive a bad connection, a database restart…
                log.warning("mssante mailbox unavailable", extra={"mailbox": address, "code": _code(exc)})
                await client.close()
                await _pause(stopping, backoff)
                backoff = min(backoff * 2, ms.poll_seconds * 5)
    finally:
        await asyncio.shield(client.close())
        if lock is not None:
            lock.release()


async def _every(seconds: float, what: str, fn: Callable[[], Awaitable[object]], stopping: asyncio.Event) -> None:
    while not stopping.is_set():
        try:
            await fn()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a failed pass is retried at the next tick, never fatal
            log.warning("mssante job failed", extra={"job": what, "error": _code(exc)})
        await _pause(stopping, seconds)


async def _supervised(what: str, work: Callable[[], Awaitable[None]], stopping: asyncio.Event) -> None:
    """Run one of the gateway's loops until the gateway stops; restart it with back-off if it
    fails or ends (a bug in one loop must not silence the mailboxes for good)."""
    loop = asyncio.get_running_loop()
    backoff = RESTART_FIRST
    while not stopping.is_set():
        started = loop.time()
        try:
            await work()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.error("mssante task failed", extra={"job": what, "error": _code(exc)})
        if stopping.is_set():
            return
        if loop.time() - started > RESTART_MAX:
            backoff = RESTART_FIRST
        log.warning("mssante task restarting", extra={"job": what, "delay": backoff})
        await _pause(stopping, backoff)
        backoff = min(backoff * 2, RESTART_MAX)


async def refresh_directory(installation: Installation, runtime: GatewayRuntime) -> directory.ImportReport | None:
    ms = runtime.settings
    if not ms.directory_source:
        return None
    workdir = installation.settings.data_dir / "tmp"
    async with directory_extraction(workdir, ms.directory_source, ms.directory_trust_anchor) as chunks:
        return await directory.import_extraction(installation.services, split_lines(chunks), ms.directory_source)


async def refresh_crls(installation: Installation, runtime: GatewayRuntime) -> int:
    """Fetch the CRLs from the addresses the administrator configured (none: nothing fetched)."""
    urls = runtime.settings.crl_urls
    if not urls:
        return 0
    return await asyncio.to_thread(download_configured_crls, installation.settings, runtime.settings)


async def refresh_whitelist(installation: Installation,
                            runtime: GatewayRuntime) -> mssante_whitelist.ImportReport | None:
    """Fetch the trust space's list of domains and adopt it (``WhitelistRefused`` when it does not
    read, or is older than the list in force: the list in force stays)."""
    if runtime.trust_space is None:
        return None
    data = await runtime.fetch_whitelist()
    if data is None:
        return None
    return await asyncio.to_thread(runtime.trust_space.import_document, data)


async def _listen(installation: Installation, runtime: GatewayRuntime, stopping: asyncio.Event) -> None:
    """The SMTP listener (an organisation's own MSSanté domain), until the gateway stops."""
    services = installation.services

    async def deliver(mailbox: str, raw: bytes) -> None:
        await inbound.ingest(services, runtime.gateway, mailbox, raw)

    async def quarantine(mailbox: str, raw: bytes) -> None:
        await mssante_whitelist.quarantine_unlisted(services, runtime.gateway, mailbox, raw)

    if runtime.trust_space is not None and runtime.trust_space.current is None:
        # No list kept yet (first start): fetch it before taking mail, rather than answer 451.
        try:
            await refresh_whitelist(installation, runtime)
        except ChevetError as exc:
            log.warning("mssante job failed", extra={"job": "whitelist", "error": exc.code})
    server = await runtime.listen(deliver, quarantine, services.clock.now)
    if server is None:
        return
    try:
        await stopping.wait()
    finally:
        server.close()   # no new sessions; one in progress ends with the process


class GatewayTasks:
    """The gateway's loops, started and stopped together with the process that runs them."""

    def __init__(self, installation: Installation, runtime: GatewayRuntime) -> None:
        self.installation, self.runtime = installation, runtime
        runtime.bind_psc(installation.services)  # PSC mailboxes: their token sources
        self.stopping = asyncio.Event()
        self.outbox: asyncio.Task[None] | None = None
        self.others: list[asyncio.Task[None]] = []

    def _task(self, what: str, work: Callable[[], Awaitable[None]]) -> asyncio.Task[None]:
        return asyncio.create_task(_supervised(what, work, self.stopping), name=f"mssante:{what}")

    async def start(self) -> None:
        installation, runtime, ms, stopping = self.installation, self.runtime, self.runtime.settings, self.stopping

        async def outbox() -> None:
            # Documents of earlier versions first (once; retried with the loop if the database
            # is not there yet): the messages that carry them may be in the outbox.
            await documents.adopt_legacy_documents(installation.services)
            await _every(ms.outbox_seconds, "outbox", lambda: deliver_once(installation, runtime, stopping), stopping)

        self.outbox = self._task("outbox", outbox)
        for n, box in enumerate(b for b in ms.mailboxes if b.fetch):
            self.others.append(self._task(f"mailbox-{n}", functools.partial(
                _mailbox_loop, installation, runtime, box.address, stopping)))
        if ms.crl_urls:
            self.others.append(self._task("crl", lambda: _every(
                ms.crl_refresh_hours * 3600, "crl", lambda: refresh_crls(installation, runtime), stopping)))
        if ms.directory_source:
            self.others.append(self._task("directory", lambda: _every(
                ms.directory_refresh_hours * 3600, "directory", lambda: refresh_directory(installation, runtime),
                stopping)))
        if ms.listener is not None:
            if ms.listener.whitelist is not None:
                refresh = ms.listener.whitelist.refresh_hours * 3600
                self.others.append(self._task("whitelist", lambda: _every(
                    refresh, "whitelist", lambda: refresh_whitelist(installation, runtime), stopping)))
            self.others.append(self._task("listener", functools.partial(_listen, installation, runtime, stopping)))
        log.info("mssante gateway started", extra={"mailboxes": len(ms.mailboxes), "tasks": len(self.tasks)})

    @property
    def tasks(self) -> list[asyncio.Task[None]]:
        return ([self.outbox] if self.outbox is not None else []) + self.others

    async def wait(self) -> None:
        """Until the gateway is stopped (``chevet mssante run``)."""
        await self.stopping.wait()

    async def stop(self) -> None:
        """Stop taking work at once; let a submission in hand finish (at most the operator's
        timeout: a message cut off mid-submission stays leased and goes again, same bytes and
        Message-ID, when its lease expires); close every connection."""
        self.stopping.set()
        for t in self.others:
            t.cancel()
        if self.outbox is not None:
            grace = max([self.runtime.operator(b.address).timeout_seconds for b in self.runtime.settings.mailboxes]
                        + [self.runtime.settings.operator.timeout_seconds]) + 1
            done, _ = await asyncio.wait([self.outbox], timeout=grace)
            if not done:
                self.outbox.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        log.info("mssante gateway stopped")


async def run(installation: Installation, runtime: GatewayRuntime) -> None:
    """Run the gateway until cancelled."""
    gateway = GatewayTasks(installation, runtime)
    await gateway.start()
    try:
        await gateway.wait()
    finally:
        await asyncio.shield(gateway.stop())
