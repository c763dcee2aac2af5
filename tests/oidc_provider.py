"""A real OpenID Connect provider on loopback for the Pro Santé Connect tests, built from
authlib's server-side pieces (ID token generation, PKCE S256 check, JOSE) behind a small Flask
application served over HTTP in a thread.

With ``tls`` (a test CA) it speaks HTTPS with a certificate from that CA and, like the
production token endpoint, asks for a client certificate from the same CA; ``require_client_cert``
makes the token endpoint refuse a client that presented none.

It behaves like PSC (scope ``openid scope_all``, ``acr`` ``eidas1``, ``SubjectNameID``) and can be
told to misbehave: ``mode`` is one of ok, no_acr, low_acr, expired, bad_signature, wrong_nonce,
wrong_aud, userinfo_jwt.

For the mailboxes of professionals (PER) and services (ORG) it also plays the part PSC plays
for an MSSanté operator: it grants refresh tokens (``grant_type=refresh_token``, rotated at each
use) and answers token introspection (RFC 7662) at ``/introspect`` for the operator's Dovecot,
which authenticates there with ``INTROSPECTION_CLIENT``. ``mailboxes`` maps a SubjectNameID to
the mailbox its tokens open (the ``email`` Dovecot compares with the SASL user). Dovecot names a
fixed address, so the mail tests start the provider on ``INTROSPECTION_PORT``.
"""

from __future__ import annotations

import secrets
import shutil
import ssl
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from authlib.oauth2.rfc7636 import create_s256_code_challenge
from flask import Flask, jsonify, redirect, request
from joserfc import jwt
from joserfc.jwk import RSAKey
from werkzeug.serving import make_server

if TYPE_CHECKING:
    from tests.mss_pki import TestCA

CLIENT_ID = "chevet-test"
CLIENT_SECRET = "s3cret-for-tests"
INTROSPECTION_PORT = 11480  # named by .ci/setup-mail's Dovecot for PSC mailboxes
INTROSPECTION_CLIENT = ("dovecot-mss", "introspect-for-tests")


class Provider:
    def __init__(self, tls: TestCA | None = None, require_client_cert: bool = False, port: int = 0) -> None:
        self.key = RSAKey.generate_key(2048, {"kid": "psc-1", "use": "sig", "alg": "RS256"}, private=True)
        self.rogue = RSAKey.generate_key(2048, {"kid": "psc-1", "alg": "RS256"}, private=True)
        self.mode = "ok"
        self.subject_name_id = "810001234567"
        self.codes: dict[str, dict[str, Any]] = {}
        self.tokens: dict[str, str] = {}
        self.token_requests: list[dict[str, str]] = []
        self.authorize_requests: list[dict[str, str]] = []
        self.client_certs: list[str | None] = []  # PEM of the client certificate at each token request
        self.mailboxes: dict[str, str] = {}  # SubjectNameID -> mailbox address its tokens open
        self.grants: dict[str, dict[str, Any]] = {}  # access token -> {sub, exp}
        self.refresh_tokens: dict[str, str] = {}  # refresh token -> SubjectNameID
        self.introspections: list[str] = []  # the SubjectNameID (or "") of each introspection asked
        self.issued: list[str] = []  # every access and refresh token granted (to look for them in logs)
        self.require_client_cert = require_client_cert
        self.files = Path(tempfile.mkdtemp(prefix="psc-test-"))
        self.ca_file: Path | None = None
        context: ssl.SSLContext | None = None
        if tls is not None:
            from tests.mss_pki import write_pem

            leaf = tls.issue("psc.localhost", server=True)
            self.ca_file = write_pem(self.files / "ca.pem", tls.pem())
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(self.ca_file))
            context.verify_mode = ssl.CERT_OPTIONAL
            context.load_cert_chain(write_pem(self.files / "server.pem", leaf.pem()),
                                    write_pem(self.files / "server.key", leaf.key_pem()))
        self.app = self._build()
        self.server = make_server("127.0.0.1", port, self.app, threaded=True, ssl_context=context)
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.server.server_port}"
        self.verify: ssl.SSLContext | bool = ssl.create_default_context(cafile=str(self.ca_file)) if tls else True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        shutil.rmtree(self.files, ignore_errors=True)

    def settings_env(self) -> dict[str, str]:
        base = self.url
        tls = {"CHEVET_PSC_CA_FILE": str(self.ca_file)} if self.ca_file else {}
        return {**tls, "CHEVET_PSC_CLIENT_ID": CLIENT_ID, "CHEVET_PSC_CLIENT_SECRET": CLIENT_SECRET,
                "CHEVET_PSC_ISSUER": f"{base}/realms/esante-wallet", "CHEVET_PSC_AUTHORIZE_URL": f"{base}/auth",
                "CHEVET_PSC_TOKEN_URL": f"{base}/token", "CHEVET_PSC_USERINFO_URL": f"{base}/userinfo",
                "CHEVET_PSC_JWKS_URL": f"{base}/certs", "CHEVET_PSC_LOGOUT_URL": f"{base}/logout"}

    def issue(self, subject: str | None = None, lifetime: int = 300) -> dict[str, Any]:
        """Grant tokens for ``subject`` as the token endpoint would: access token (``lifetime``
        seconds) and a refresh token."""
        subject = subject or self.subject_name_id
        access, refresh = secrets.token_urlsafe(24), secrets.token_urlsafe(32)
        self.grants[access] = {"sub": subject, "exp": int(time.time()) + lifetime}
        self.tokens[access] = self.mode
        self.refresh_tokens[refresh] = subject
        self.issued += [access, refresh]
        return {"access_token": access, "token_type": "Bearer", "expires_in": lifetime,
                "refresh_token": refresh, "refresh_expires_in": 1800}

    def expire(self, access: str) -> None:
        """The access token's life is over (PSC access tokens live a few minutes)."""
        if access in self.grants:
            self.grants[access]["exp"] = 0

    def claims(self) -> dict[str, Any]:
        return {"sub": "f:psc:" + self.subject_name_id, "SubjectNameID": self.subject_name_id,
                "given_name": "Paul", "family_name": "Lefèvre", "preferred_username": self.subject_name_id}

    def _build(self) -> Flask:
        app = Flask("psc-test")

        @app.get("/auth")
        def authorize() -> Any:
            args = request.args.to_dict()
            self.authorize_requests.append(args)
            code = secrets.token_urlsafe(16)
            self.codes[code] = args
            return redirect(f"{args['redirect_uri']}?code={code}&state={args['state']}", 302)

        @app.post("/token")
        def token() -> Any:
            form = request.form.to_dict()
            self.token_requests.append(form)
            self.client_certs.append(request.environ.get("SSL_CLIENT_CERT"))
            if self.require_client_cert and not self.client_certs[-1]:
                return jsonify(error="invalid_client", error_description="client certificate required"), 401
            auth = request.authorization
            if auth is None or auth.username != CLIENT_ID or auth.password != CLIENT_SECRET:
                return jsonify(error="invalid_client"), 401
            if form.get("grant_type") == "refresh_token":
                subject = self.refresh_tokens.pop(form.get("refresh_token", ""), None)  # rotated: used once
                if subject is None:
                    return jsonify(error="invalid_grant"), 400
                return jsonify(self.issue(subject))
            asked = self.codes.pop(form.get("code", ""), None)
            if asked is None or asked["redirect_uri"] != form.get("redirect_uri"):
                return jsonify(error="invalid_grant"), 400
            if create_s256_code_challenge(form.get("code_verifier", "")) != asked.get("code_challenge"):
                return jsonify(error="invalid_grant", error_description="PKCE"), 400
            granted = self.issue()
            access = granted["access_token"]
            mode = self.mode
            acr = {"no_acr": None, "low_acr": "eidas0"}.get(mode, "eidas1")
            key = self.rogue if mode == "bad_signature" else self.key
            aud = "someone-else" if mode == "wrong_aud" else CLIENT_ID
            nonce = "not-the-nonce" if mode == "wrong_nonce" else asked["nonce"]
            exp = -600 if mode == "expired" else 300
            now = int(time.time())
            claims = {"iss": f"{self.url}/realms/esante-wallet", "aud": aud, "sub": self.claims()["sub"],
                      "sid": "psc-session-1", "iat": now, "exp": now + exp, "nonce": nonce}
            if acr is not None:
                claims["acr"] = acr
            id_token = jwt.encode({"alg": "RS256", "kid": "psc-1"}, claims, key)
            return jsonify(access_token=access, token_type="Bearer", expires_in=300, id_token=id_token,
                           refresh_token=granted["refresh_token"], refresh_expires_in=1800)

        @app.post("/introspect")
        def introspect() -> Any:
            """RFC 7662: the operator asks whether a token is active and whose it is."""
            # Each answer closes its connection: Dovecot's HTTP client would otherwise send the next
            # question on a connection the test server no longer reads, and wait for its timeout.
            close = {"Connection": "close"}
            auth = request.authorization
            if auth is None or (auth.username, auth.password) != INTROSPECTION_CLIENT:
                return jsonify(error="invalid_client"), 401, close
            grant = self.grants.get(request.form.get("token", ""))
            self.introspections.append(grant["sub"] if grant else "")
            if grant is None or grant["exp"] <= time.time():
                return jsonify(active=False), 200, close
            subject = grant["sub"]
            return jsonify(active=True, token_type="Bearer", client_id=CLIENT_ID, exp=grant["exp"],
                           sub="f:psc:" + subject, SubjectNameID=subject, scope="openid scope_all",
                           email=self.mailboxes.get(subject, "")), 200, close

        @app.get("/userinfo")
        def userinfo() -> Any:
            access = (request.headers.get("Authorization") or "")[7:]
            if access not in self.tokens:
                return jsonify(error="invalid_token"), 401
            if self.tokens[access] == "userinfo_jwt":
                payload = {**self.claims(), "iss": f"{self.url}/realms/esante-wallet", "aud": CLIENT_ID,
                           "iat": int(time.time())}
                body = jwt.encode({"alg": "RS256", "kid": "psc-1"}, payload, self.key)
                return body, 200, {"Content-Type": "application/jwt"}
            return jsonify(self.claims())

        @app.get("/certs")
        def certs() -> Any:
            return jsonify(keys=[self.key.as_dict(private=False)])

        @app.get("/logout")
        def logout() -> Any:
            return "logged out", 200

        return app
