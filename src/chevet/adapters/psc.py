"""Pro Santé Connect as an OpenID Connect provider (joserfc for JOSE, httpx for HTTP).

Every endpoint comes from the settings: production and sandbox differ only by configuration.
The ID token is checked for signature (the provider's JWKS; HS256 with the client secret only
when explicitly allowed), issuer, audience, expiry, issue time and nonce; the userinfo is read
whether it comes as plain JSON or as a signed JWT (``application/jwt``). Encrypted (JWE)
answers are refused with a clear error: Chevet does not register an encryption key.
The token endpoint can be called with a client certificate (mTLS), as ANS asks of production
clients.
"""

from __future__ import annotations

import logging
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import GuestProtocol, Key, KeySet, OctKey

from chevet.core.errors import AuthenticationFailed
from chevet.core.identity import pkce_s256_challenge
from chevet.ports import ProviderLogin

log = logging.getLogger("chevet.psc")

SCOPE = "openid scope_all"
ACR_VALUES = "eidas1"
LEEWAY = 60
BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"


def _with_query(url: str, params: list[tuple[str, str]]) -> str:
    """``url`` with ``params`` added to whatever query it already has (a provider may publish an
    endpoint that carries one)."""
    parts = urlsplit(url)
    query = urlencode([*parse_qsl(parts.query, keep_blank_values=True), *params])
    return urlunsplit(parts._replace(query=query))


@dataclass(frozen=True, slots=True)
class PscConfig:
    issuer: str
    client_id: str
    client_secret: str | None
    authorize_url: str
    token_url: str
    userinfo_url: str
    jwks_url: str
    redirect_uri: str
    logout_url: str | None = None
    post_logout_redirect_uri: str | None = None
    client_cert: Path | None = None
    client_key: Path | None = None
    ca_file: Path | None = None
    allow_hs256: bool = False
    timeout: float = 10.0


class PscProvider:
    def __init__(self, config: PscConfig) -> None:
        self.config = config
        self._jwks: KeySet | None = None
        self._jwks_at = 0.0
        self._algorithms = ["RS256", "PS256", "ES256"] + (["HS256"] if config.allow_hs256 else [])

    # --- HTTP ------------------------------------------------------------------------------
    def _client(self, *, with_cert: bool = False) -> httpx.AsyncClient:
        """TLS towards the provider: the configured trust anchor (or the system's), and the client
        certificate for the token endpoint when one is configured (mTLS)."""
        c = self.config
        verify: ssl.SSLContext | bool = True
        if c.ca_file or (with_cert and c.client_cert and c.client_key):
            verify = ssl.create_default_context(cafile=str(c.ca_file) if c.ca_file else None)
            if with_cert and c.client_cert and c.client_key:
                verify.load_cert_chain(str(c.client_cert), str(c.client_key))
        return httpx.AsyncClient(timeout=c.timeout, verify=verify, follow_redirects=False)

    async def _keys(self, *, refresh: bool = False) -> KeySet:
        if self._jwks is None or (refresh and time.monotonic() - self._jwks_at > 30):
            try:
                async with self._client() as client:
                    r = await client.get(self.config.jwks_url)
                r.raise_for_status()
                self._jwks = KeySet.import_key_set(r.json())
                self._jwks_at = time.monotonic()
            except (httpx.HTTPError, ValueError, TypeError, KeyError, JoseError) as exc:
                log.warning("psc jwks unavailable", extra={"error": type(exc).__name__})
                raise AuthenticationFailed("psc_unavailable") from exc
        return self._jwks

    # --- the authorization request -----------------------------------------------------------
    def authorization_url(self, state: str, nonce: str, code_verifier: str) -> str:
        c = self.config
        return _with_query(c.authorize_url, [
            ("response_type", "code"), ("client_id", c.client_id), ("redirect_uri", c.redirect_uri),
            ("scope", SCOPE), ("acr_values", ACR_VALUES), ("state", state), ("nonce", nonce),
            ("code_challenge", pkce_s256_challenge(code_verifier)), ("code_challenge_method", "S256")])

    # --- the code exchange and the tokens -----------------------------------------------------
    async def complete(self, code: str, code_verifier: str, nonce: str) -> ProviderLogin:
        c = self.config
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": c.redirect_uri,
                "code_verifier": code_verifier, "client_id": c.client_id}
        try:
            async with self._client(with_cert=True) as client:
                if c.client_secret:
                    r = await client.post(c.token_url, data=form, auth=(c.client_id, c.client_secret),
                                          headers={"Accept": "application/json"})
                else:
                    r = await client.post(c.token_url, data=form, headers={"Accept": "application/json"})
                if r.status_code != 200:
                    log.info("psc token refused", extra={"status": r.status_code})
                    raise AuthenticationFailed("psc_refused")
                tokens = r.json()
                id_token, access_token = tokens.get("id_token"), tokens.get("access_token")
                if not isinstance(id_token, str) or not isinstance(access_token, str):
                    raise AuthenticationFailed("psc_refused")
                claims = await self._decode(id_token, nonce=nonce)
                u = await client.get(c.userinfo_url, headers={"Authorization": f"Bearer {access_token}"})
        except httpx.HTTPError as exc:
            log.warning("psc unreachable", extra={"error": type(exc).__name__})
            raise AuthenticationFailed("psc_unavailable") from exc
        except OSError as exc:  # the trust anchor or the client certificate cannot be loaded
            log.error("psc tls files unusable", extra={"error": type(exc).__name__})
            raise AuthenticationFailed("psc_unavailable") from exc
        except ValueError as exc:
            raise AuthenticationFailed("psc_refused") from exc
        userinfo = await self._userinfo(u)
        if userinfo.get("sub") != claims.get("sub"):
            raise AuthenticationFailed("psc_token_invalid")
        sid = claims.get("sid")
        return ProviderLogin(claims={**userinfo, **claims}, id_token=id_token,
                             sid=sid if isinstance(sid, str) and len(sid) <= 200 else None)

    def _key_for(self, keys: KeySet) -> Callable[[GuestProtocol], Key]:
        secret = self.config.client_secret

        def resolve(token: GuestProtocol) -> Key:
            header = token.headers()
            alg = header.get("alg")
            if isinstance(alg, str) and alg.startswith("HS"):
                if not (self.config.allow_hs256 and secret):
                    raise AuthenticationFailed("psc_token_invalid")
                return OctKey.import_key(secret)
            kid = header.get("kid")
            try:
                return keys.get_by_kid(kid if isinstance(kid, str) else None)
            except InvalidKeyIdError as exc:
                raise _UnknownKid from exc

        return resolve

    async def _verify(self, token: str, options: dict[str, Any]) -> dict[str, Any]:
        if token.count(".") == 4:
            raise AuthenticationFailed("psc_encrypted_unsupported")
        for refresh in (False, True):
            keys = await self._keys(refresh=refresh)
            try:
                decoded = jwt.decode(token, self._key_for(keys), algorithms=self._algorithms)
                jwt.JWTClaimsRegistry(leeway=LEEWAY, **options).validate(decoded.claims)
                return dict(decoded.claims)
            except _UnknownKid:
                continue  # the provider may have rolled its keys: fetch them again, once
            except (JoseError, ValueError, TypeError) as exc:
                log.info("psc token refused", extra={"error": type(exc).__name__})
                raise AuthenticationFailed("psc_token_invalid") from exc
        raise AuthenticationFailed("psc_token_invalid")

    async def _decode(self, id_token: str, *, nonce: str) -> dict[str, Any]:
        c = self.config
        return await self._verify(id_token, {
            "iss": {"essential": True, "value": c.issuer}, "aud": {"essential": True, "value": c.client_id},
            "exp": {"essential": True}, "iat": {"essential": True}, "sub": {"essential": True},
            "nonce": {"essential": True, "value": nonce}})

    async def _userinfo(self, r: httpx.Response) -> dict[str, Any]:
        if r.status_code != 200:
            raise AuthenticationFailed("psc_refused")
        kind = r.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind == "application/jwt":
            return await self._verify(r.text.strip(), {"iss": {"essential": False, "value": self.config.issuer}})
        try:
            data = r.json()
        except ValueError as exc:
            raise AuthenticationFailed("psc_refused") from exc
        if not isinstance(data, dict):
            raise AuthenticationFailed("psc_refused")
        return data

    # --- logout -------------------------------------------------------------------------------
    def logout_url(self, id_token: str | None, state: str) -> str | None:
        c = self.config
        if not c.logout_url:
            return None
        params = [("client_id", c.client_id), ("state", state)]
        if id_token:
            params.append(("id_token_hint", id_token))
        if c.post_logout_redirect_uri:
            params.append(("post_logout_redirect_uri", c.post_logout_redirect_uri))
        return _with_query(c.logout_url, params)

    async def verify_logout_token(self, token: str) -> tuple[str | None, str | None]:
        c = self.config
        claims = await self._verify(token, {"iss": {"essential": True, "value": c.issuer},
                                            "aud": {"essential": True, "value": c.client_id},
                                            "iat": {"essential": True}})
        events = claims.get("events")
        if not isinstance(events, dict) or BACKCHANNEL_EVENT not in events or "nonce" in claims:
            raise AuthenticationFailed("psc_token_invalid")
        sub, sid = claims.get("sub"), claims.get("sid")
        return (sub if isinstance(sub, str) else None), (sid if isinstance(sid, str) else None)


class _UnknownKid(Exception):
    pass
