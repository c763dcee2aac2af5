"""The words of the invitation mail, from the catalogs, in the invitee's language: for the
administration page and for ``chevet user invite``."""

from __future__ import annotations

from chevet.app.identity.invitation_mail import InvitationText
from chevet.web.i18n import LANGUAGES, gettext


def invitation_text(language: str, organisation: str, link: str, days: int) -> InvitationText:
    lang = language if language in LANGUAGES else "fr"
    return InvitationText(lang, gettext("mail.invitation.subject", lang, organisation=organisation),
                          gettext("mail.invitation.body", lang, organisation=organisation, link=link, days=days))


def invitation_link(origin: str, token: str) -> str:
    return f"{origin.rstrip('/')}/invitation/{token}"
