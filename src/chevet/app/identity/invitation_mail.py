"""The invitation link sent by e-mail through the installation's SMTP relay.

The mail holds the link and nothing else personal: no name, no role, no organisation data
beyond what the link leads to (it is only a way to reach the person's own phone). It is queued
with the invitation (``mail_outbox``) and leaves from the server's job. The inviter sees the
link anyway: when the relay is not configured, or the mail ends undelivered (the people page
says so), the invitation stands and the inviter hands the link over another way.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from chevet.app.identity import mail_outbox
from chevet.app.services import Unit
from chevet.core.entities import Person


@dataclass(frozen=True, slots=True)
class InvitationText:
    """The mail's words in the invitee's language, written by the caller from its catalogs."""

    language: str
    subject: str
    body: str


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


KIND = "invitation"


async def queue_invitation(u: Unit, person: Person, text: InvitationText) -> bool:
    """Queue the link's mail in the transaction that makes the invitation (``mail_outbox``):
    the inviter never waits on the relay. False when no relay is configured."""
    relay = u.services.mail_relay
    if relay is None:
        return False
    domain = relay.sender.rpartition("@")[2] or "localhost"
    message = invitation_message(relay.sender, person.email, text, domain, format_datetime(u.services.clock.now()))
    return await mail_outbox.queue(u, person.org_id, KIND, person.id, person.email, message)
