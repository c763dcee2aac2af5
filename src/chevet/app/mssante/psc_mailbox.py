"""Personal (PER) and organisational (ORG) MSSanté mailboxes opened with Pro Santé Connect.

Operators give PER and ORG mailboxes to the holder of a PSC access token. A professional links
her PER mailbox (an administrator, an ORG mailbox) by logging in with PSC once: the refresh
token the provider grants is kept sealed with the installation's credentials key, bound to the
organisation and the person; the access token (a few minutes of life) is kept only in memory,
asked again a minute before it ends, and dropped at once when the operator refuses it. Neither
is ever logged.

When the provider refuses the refresh (the PSC session ended, the card was revoked), the link is
marked "to be renewed" and the mailbox waits, with a clear reason, until its holder logs in with
PSC again.
"""

from __future__ import annotations

import asyncio
import secrets
import time
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Protocol

from chevet.app.identity.people import open_credential
from chevet.app.identity.psc import open_flow_fields, seal_flow
from chevet.app.services import Actor, Services
from chevet.core import envelope, identity
from chevet.core.entities import PersonStatus
from chevet.core.errors import AuthenticationFailed, Forbidden, IntegrityError, InvalidInput, NotFound
from chevet.core.mssante.delivery import TransientMailError
from chevet.core.mssante.psc_link import LinkState, PscLink, PscMailbox, TokenGrant, check_link, needs_refresh
from chevet.core.roles import Permission, can

_LABEL = "mss_psc_refresh"
_FLOW_AAD = b"mss-psc-link-flow"
FLOW_SECONDS = 600


class TokenEndpoint(Protocol):
    """The provider's token endpoint (RFC 6749 §6) as this module uses it."""

    async def refresh(self, refresh_token: str) -> TokenGrant:
        """Raises ``AuthenticationFailed("psc_refused")`` when the grant is refused, and
        ``AuthenticationFailed("psc_unavailable")`` when the provider cannot be reached."""
        ...


class LinkEndpoint(Protocol):
    """The provider as the linking login uses it (its own redirect address)."""

    def authorization_url(self, state: str, nonce: str, code_verifier: str) -> str: ...

    async def exchange(self, code: str, code_verifier: str, nonce: str) -> tuple[str | None, TokenGrant]:
        """The login's ``SubjectNameID`` (from its checked ID token) and the tokens granted."""
        ...


@dataclass(frozen=True, slots=True)
class LinkFlow:
    state: str
    nonce: str
    verifier: str
    mailbox: str
    session_id: str | None
    expires: float


def begin_link(services: Services, actor: Actor, box: PscMailbox, endpoint: LinkEndpoint) -> tuple[str, str]:
    """(URL to send the browser to, sealed flow the browser keeps until it comes back)."""
    if not may_link(actor, box):
        raise Forbidden("mss_psc_not_your_mailbox")
    flow = LinkFlow(secrets.token_urlsafe(24), secrets.token_urlsafe(24), secrets.token_urlsafe(48), box.address,
                    str(actor.session_id) if actor.session_id else None, time.time() + FLOW_SECONDS)
    return (endpoint.authorization_url(flow.state, flow.nonce, flow.verifier),
            seal_flow(services, "mss_psc_flow", _FLOW_AAD, asdict(flow)))


def _open_flow(services: Services, blob: str | None, state: str | None) -> LinkFlow:
    fields = open_flow_fields(services, "mss_psc_flow", _FLOW_AAD, blob, state, "mss_psc_flow_invalid")
    try:
        return LinkFlow(**fields)
    except TypeError as exc:
        raise AuthenticationFailed("mss_psc_flow_invalid") from exc


async def finish_link(services: Services, actor: Actor, boxes: list[PscMailbox], endpoint: LinkEndpoint,
                      blob: str | None, state: str | None, code: str | None) -> PscMailbox:
    """The browser is back from PSC: the login must be the same person's, in the same session,
    for the mailbox she asked to link."""
    flow = _open_flow(services, blob, state)
    if flow.session_id != (str(actor.session_id) if actor.session_id else None):
        raise AuthenticationFailed("mss_psc_flow_invalid")
    box = next((b for b in boxes if b.address == flow.mailbox), None)
    if box is None:
        raise NotFound("mss_psc_mailbox_unknown")
    if not code or len(code) > 2000:
        raise AuthenticationFailed("psc_refused")
    subject, grant = await endpoint.exchange(code, flow.verifier, flow.nonce)
    await link(services, actor, box, subject, grant)
    return box


@dataclass(frozen=True, slots=True)
class LinkView:
    """What the page shows of a mailbox's link (no token, no identifier)."""

    address: str
    kind: str
    linked: bool
    to_renew: bool
    linked_by_me: bool
    linked_at: datetime | None


def _aad(org_id: uuid.UUID, person_id: uuid.UUID) -> bytes:
    return envelope.aad(_LABEL, org_id, person_id)


def _is_admin(actor: Actor) -> bool:
    return can(actor.person.role, Permission.MANAGE_ORGANISATION)


async def link(services: Services, actor: Actor, box: PscMailbox, subject_name_id: str | None,
               grant: TokenGrant) -> None:
    """Record the PSC login that opens ``box``: the person's own card, her PER mailbox or, for an
    administrator, an ORG mailbox of her organisation."""
    check_link(box, org_slug=actor.organisation.slug, email=actor.person.email, is_admin=_is_admin(actor),
               rpps=actor.person.rpps, subject=identity.national_number(subject_name_id))
    if grant.refresh_token is None:
        raise InvalidInput("mss_psc_no_refresh_token")
    now = services.clock.now()
    sealed = envelope.seal(services.credential_key(), grant.refresh_token.encode(), _aad(actor.org_id, actor.id))
    async with services.unit(actor.ip) as u:
        await u.tx.mssante.save_psc_link(PscLink(
            org_id=actor.org_id, mailbox=box.address, person_id=actor.id, kind=box.kind, refresh_sealed=sealed,
            refresh_expires_at=grant.refresh_expires_at, state=LinkState.ACTIVE, linked_at=now, refreshed_at=now))
        await u.audit(actor.org_id, "mssante.psc_linked", actor.id, "mss_mailbox", None, kind=box.kind)


async def unlink(services: Services, actor: Actor, box: PscMailbox) -> None:
    """Forget the link (its holder, or an administrator): the mailbox stops until linked again."""
    if box.org_slug != actor.organisation.slug:
        raise Forbidden("mss_psc_not_your_mailbox")
    async with services.unit(actor.ip) as u:
        current = await u.tx.mssante.psc_link(actor.org_id, box.address)
        if current is None:
            raise NotFound("mss_psc_not_linked")
        if current.person_id != actor.id and not _is_admin(actor):
            raise Forbidden("mss_psc_not_your_mailbox")
        await u.tx.mssante.delete_psc_link(actor.org_id, box.address)
        await u.audit(actor.org_id, "mssante.psc_unlinked", actor.id, "mss_mailbox", None, kind=box.kind)


async def view(services: Services, actor: Actor, box: PscMailbox) -> LinkView:
    if box.org_slug != actor.organisation.slug:
        raise Forbidden("mss_psc_not_your_mailbox")
    async with services.db.transaction() as tx:
        current = await tx.mssante.psc_link(actor.org_id, box.address)
    return LinkView(box.address, box.kind, current is not None,
                    current is not None and current.state is LinkState.RELINK,
                    current is not None and current.person_id == actor.id,
                    current.linked_at if current else None)


def may_link(actor: Actor, box: PscMailbox) -> bool:
    """Whether the page offers this person to link this mailbox (her card is checked at the link)."""
    if box.org_slug != actor.organisation.slug:
        return False
    if box.kind == "PER":
        return (box.owner or "").lower() == actor.person.email.lower()
    return _is_admin(actor)


class MailboxToken:
    """The access token a PSC mailbox's IMAP and SMTP connections log in with (``BearerSource``)."""

    def __init__(self, services: Services, endpoint: TokenEndpoint, box: PscMailbox) -> None:
        self.services, self.endpoint, self.box = services, endpoint, box
        self._access: str | None = None
        self._expires: datetime | None = None
        self._lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"MailboxToken(kind={self.box.kind})"

    async def token(self) -> str:
        async with self._lock:
            if self._access is None or needs_refresh(self._expires, self.services.clock.now()):
                await self._refresh()
            assert self._access is not None
            return self._access

    async def rejected(self, token: str) -> None:
        async with self._lock:
            if token == self._access:
                self._access, self._expires = None, None

    async def _link(self) -> PscLink:
        async with self.services.db.transaction() as tx:
            org = await tx.organisations.by_slug(self.box.org_slug)
            current = await tx.mssante.psc_link(org.id, self.box.address) if org is not None else None
            holder = await tx.people.get(current.org_id, current.person_id) if current is not None else None
        if current is None:
            raise TransientMailError("mss_psc_not_linked")
        if holder is None or holder.status is not PersonStatus.ACTIVE:
            # She left (or her organisation was shredded): her login no longer opens the mailbox.
            raise TransientMailError("mss_psc_holder_inactive")
        if current.state is LinkState.RELINK:
            raise TransientMailError("mss_psc_relink_needed")
        return current

    async def _refresh(self) -> None:
        current = await self._link()
        for attempt in (1, 2):
            aad = _aad(current.org_id, current.person_id)
            try:
                refresh = open_credential(self.services, current.refresh_sealed, aad).decode()
            except IntegrityError as exc:
                raise TransientMailError("mss_psc_relink_needed") from exc
            try:
                grant = await self.endpoint.refresh(refresh)
            except AuthenticationFailed as exc:
                if exc.code != "psc_refused":
                    raise TransientMailError("mss_psc_unavailable") from exc
                again = await self._link()
                if attempt == 1 and again.refresh_sealed != current.refresh_sealed:
                    current = again  # another process renewed it meanwhile: use the new one
                    continue
                await self._to_renew(current)
                raise TransientMailError("mss_psc_relink_needed") from exc
            except InvalidInput as exc:
                raise TransientMailError("mss_psc_unavailable", exc.code) from exc
            await self._keep(current, grant)
            self._access, self._expires = grant.access_token, grant.expires_at
            return

    async def _keep(self, current: PscLink, grant: TokenGrant) -> None:
        now = self.services.clock.now()
        if grant.refresh_token is None:  # the provider did not rotate it
            sealed, expires = current.refresh_sealed, current.refresh_expires_at
        else:
            sealed = envelope.seal(self.services.credential_key(), grant.refresh_token.encode(),
                                   _aad(current.org_id, current.person_id))
            expires = grant.refresh_expires_at
        async with self.services.db.transaction() as tx:
            await tx.mssante.update_psc_refresh(current.org_id, current.mailbox, current.refresh_sealed, sealed,
                                                expires, now)

    async def _to_renew(self, current: PscLink) -> None:
        async with self.services.unit(None) as u:
            await u.tx.mssante.set_psc_state(current.org_id, current.mailbox, LinkState.RELINK)
            await u.audit(current.org_id, "mssante.psc_link_expired", None, "mss_mailbox", None,
                          kind=current.kind)
