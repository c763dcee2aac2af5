"""The words of the invitation mail, from the catalogs, in the invitee's language: for the
administration page and for ``chevet user invite``."""

from __future__ import annotations

from collections.abc import Callable

from chevet.app.identity.invitation_mail import InvitationText
from chevet.core.entities import Person
from chevet.web.i18n import LANGUAGES, gettext


def invitation_text(language: str, organisation: str, link: str, days: int) -> InvitationText:
    lang = language if language in LANGUAGES else "fr"
    return InvitationText(lang, gettext("mail.invitation.subject", lang, organisation=organisation),
                          gettext("mail.invitation.body", lang, organisation=organisation, link=link, days=days))


def invitation_link(origin: str, token: str) -> str:
    return f"{origin.rstrip('/')}/invitation/{token}"


def invitation_mail(origin: str, organisation: str, days: int) -> Callable[[Person, str], InvitationText]:
    """The mail's words for ``people.invite_person``, which queues it with the invitation."""
    return lambda person, token: invitation_text(person.language, organisation, invitation_link(origin, token), days)
