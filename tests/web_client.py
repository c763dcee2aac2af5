"""A tiny form-speaking HTTP client for the web client's pages (what a browser without
JavaScript does): keeps cookies, reads the CSRF token from the page, posts forms. It talks
either to a real server (``base``) or to the ASGI application in process (``app``)."""

from __future__ import annotations

import re
from typing import Any

import httpx

from tests.support import Member

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


class Browserless:
    def __init__(self, base: str = "http://testserver", language: str = "fr-FR,fr;q=0.9",
                 app: Any = None) -> None:
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000)) if app is not None else None
        self.http = httpx.AsyncClient(base_url=base, headers={"Accept-Language": language}, follow_redirects=False,
                                      timeout=10, transport=transport)

    async def get(self, path: str, **kw: Any) -> httpx.Response:
        return await self.http.get(path, **kw)

    async def csrf(self, path: str) -> str:
        r = await self.http.get(path)
        assert r.status_code == 200, (path, r.status_code)
        found = CSRF.search(r.text)
        assert found, path
        return found.group(1)

    async def post(self, path: str, data: dict[str, Any], *, from_page: str | None = None,
                   csrf: str | None = None) -> httpx.Response:
        token = csrf if csrf is not None else await self.csrf(from_page or path)
        return await self.http.post(path, data={**data, "csrf": token})

    async def sign_in(self, member: Member) -> httpx.Response:
        r = await self.post("/login", {"email": member.email, "password": member.password, "otp": member.otp()})
        assert r.status_code == 303, r.text[:500]
        return r

    async def close(self) -> None:
        await self.http.aclose()
