"""The invitation link sent by e-mail through the installation's SMTP relay.

The mail holds the link and nothing else personal: no name, no role, no organisation data
beyond what the link leads to (it is only a way to reach the person's own phone). The inviter
sees the link anyway: when the relay is not configured or does not answer, the invitation
stands and the inviter hands the link over another way.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from chevet.app.services import Actor, Services
from chevet.core.entities import Person
from chevet.core.mssante.delivery import MailError

log = logging.getLogger("chevet.app.invitations")


@dataclass(frozen=True, slots=True)
class InvitationText:
    """The mail's words in the invitee's language, written by the caller from its catalogs."""

    language: str
    subject: str
    body: str


@dataclass(frozen=True, slots=True)
class Mailed:
    """Whether the mail left for the relay; ``reason`` is a message id when it did not."""

    sent: bool
    reason: str | None = None


def invitation_message(sender: str, to: str, text: InvitationText, at_domain: str, now_rfc: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = text.subject
    msg["Date"] = now_rfc
    msg["Message-ID"] = make_msgid(domain=at_domain)
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no out-of-office answers to it
    msg["Content-Language"] = text.language
    msg.set_content(text.body, charset="utf-8")
    return msg.as_bytes()


async def mail_invitation(services: Services, actor: Actor | None, person: Person, text: InvitationText) -> Mailed:
    """Send the link to the invitee. Never raises for the relay: the invitation is made already."""
    relay = services.mail_relay
    if relay is None:
        return Mailed(False, "mail_relay_not_configured")
    domain = relay.sender.rpartition("@")[2] or "localhost"
    message = invitation_message(relay.sender, person.email, text, domain, format_datetime(services.clock.now()))
    try:
        await relay.submitter.submit(relay.sender, [person.email], message)
    except MailError as exc:
        log.warning("invitation mail not sent", extra={"code": exc.code})
        async with services.unit(actor.ip if actor else None) as u:
            await u.audit(person.org_id, "invitation.mail_failed", actor.id if actor else None, "person", person.id,
                          code=exc.code)
        return Mailed(False, "invitation_mail_failed")
    async with services.unit(actor.ip if actor else None) as u:
        await u.audit(person.org_id, "invitation.mailed", actor.id if actor else None, "person", person.id)
    return Mailed(True)
