"""Pro Santé Connect's token endpoint for the mailboxes linked through PSC (PER, ORG).

The same endpoint, client credentials and client certificate (mTLS) as the sign-in
(``adapters/psc.py``): ``grant_type=refresh_token`` (RFC 6749 §6) to renew the access token
a mailbox's IMAP and SMTP connections log in with, and the code exchange of the linking login,
whose ID token is checked exactly as a sign-in's. Tokens are never logged.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from chevet.adapters.psc import PscProvider
from chevet.core import identity
from chevet.core.errors import AuthenticationFailed, InvalidInput
from chevet.core.mssante.psc_link import TokenGrant, read_grant
from chevet.ports.clock import Clock

log = logging.getLogger("chevet.psc")
LINK_PATH = "/mssante/psc/retour"


def link_redirect_uri(sign_in_redirect: str) -> str:
    """Where PSC sends the browser back after a mailbox's linking login: the sign-in's own
    address (scheme, host) with the linking page's path. Both are registered at the PSC portal."""
    parts = urlsplit(sign_in_redirect)
    return urlunsplit((parts.scheme, parts.netloc, LINK_PATH, "", ""))


class PscTokens:
    def __init__(self, provider: PscProvider, clock: Clock) -> None:
        # The linking login comes back to its own page; everything else is the sign-in's.
        self.provider = PscProvider(replace(provider.config,
                                            redirect_uri=link_redirect_uri(provider.config.redirect_uri)))
        self.clock = clock

    def authorization_url(self, state: str, nonce: str, code_verifier: str) -> str:
        return self.provider.authorization_url(state, nonce, code_verifier)

    async def _post(self, form: dict[str, str]) -> Any:
        c = self.provider.config
        form = {**form, "client_id": c.client_id}
        try:
            async with self.provider._client(with_cert=True) as client:  # the sign-in's TLS (mTLS)
                if c.client_secret:
                    r = await client.post(c.token_url, data=form, auth=(c.client_id, c.client_secret),
                                          headers={"Accept": "application/json"})
                else:
                    r = await client.post(c.token_url, data=form, headers={"Accept": "application/json"})
        except (httpx.HTTPError, OSError) as exc:
            log.warning("psc token endpoint unreachable", extra={"error": type(exc).__name__})
            raise AuthenticationFailed("psc_unavailable") from exc
        if r.status_code in (400, 401):
            log.info("psc grant refused", extra={"status": r.status_code})
            raise AuthenticationFailed("psc_refused")
        if r.status_code != 200:
            log.warning("psc token endpoint failed", extra={"status": r.status_code})
            raise AuthenticationFailed("psc_unavailable")
        try:
            return r.json()
        except ValueError as exc:
            raise InvalidInput("mss_psc_token_answer_invalid") from exc

    async def refresh(self, refresh_token: str) -> TokenGrant:
        data = await self._post({"grant_type": "refresh_token", "refresh_token": refresh_token})
        return read_grant(data, self.clock.now())

    async def exchange(self, code: str, code_verifier: str, nonce: str) -> tuple[str | None, TokenGrant]:
        """The linking login's code exchanged (PKCE): the ``SubjectNameID`` of its checked ID
        token (or userinfo) and the grant."""
        c = self.provider.config
        data = await self._post({"grant_type": "authorization_code", "code": code, "redirect_uri": c.redirect_uri,
                                 "code_verifier": code_verifier})
        grant = read_grant(data, self.clock.now())
        id_token = data.get("id_token") if isinstance(data, dict) else None
        if not isinstance(id_token, str):
            raise AuthenticationFailed("psc_refused")
        claims = await self.provider._decode(id_token, nonce=nonce)  # the sign-in's own checks
        identity.check_psc_acr(claims)
        subject = claims.get("SubjectNameID")
        if not isinstance(subject, str):
            try:
                async with self.provider._client() as client:
                    u = await client.get(c.userinfo_url, headers={"Authorization": f"Bearer {grant.access_token}"})
            except (httpx.HTTPError, OSError) as exc:
                raise AuthenticationFailed("psc_unavailable") from exc
            info = await self.provider._userinfo(u)
            if info.get("sub") != claims.get("sub"):
                raise AuthenticationFailed("psc_token_invalid")
            subject = info.get("SubjectNameID")
        return (subject if isinstance(subject, str) else None), grant
