"""A tiny form-speaking HTTP client for the web client's pages (what a browser without
JavaScript does): keeps cookies, reads the CSRF token from the page, posts forms."""

from __future__ import annotations

import re
from typing import Any

import httpx

from tests.support import Member

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


class Browserless:
    def __init__(self, base: str, language: str = "fr-FR,fr;q=0.9") -> None:
        self.http = httpx.Client(base_url=base, headers={"Accept-Language": language}, follow_redirects=False,
                                 timeout=10)

    def get(self, path: str, **kw: Any) -> httpx.Response:
        return self.http.get(path, **kw)

    def csrf(self, path: str) -> str:
        r = self.http.get(path)
        assert r.status_code == 200, (path, r.status_code)
        found = CSRF.search(r.text)
        assert found, path
        return found.group(1)

    def post(self, path: str, data: dict[str, Any], *, from_page: str | None = None,
             csrf: str | None = None) -> httpx.Response:
        token = csrf if csrf is not None else self.csrf(from_page or path)
        return self.http.post(path, data={**data, "csrf": token})

    def sign_in(self, member: Member) -> httpx.Response:
        r = self.post("/login", {"email": member.email, "password": member.password, "otp": member.otp()})
        assert r.status_code == 303, r.text[:500]
        return r

    def close(self) -> None:
        self.http.close()
