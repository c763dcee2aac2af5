"""Authentication is cached for a few seconds per process: a sign-out or a revoked session
must still stop working at once in the process that handled it."""

from __future__ import annotations

import httpx

from chevet.app.services import Actor
from chevet.bootstrap import Installation
from chevet.web.sessioncache import SessionCache
from tests.support import Server, login, new_member, new_org


async def test_revoked_session_is_refused_at_once(installation: Installation, server: Server) -> None:
    svc = installation.services
    org = await new_org(svc)
    nurse = await new_member(svc, org, "nurse")
    phone = login(server.url, nurse)
    laptop = login(server.url, nurse, offset_steps=1)  # a second device (a TOTP code is single-use)
    as_phone = {"Authorization": f"Bearer {phone}"}
    as_laptop = {"Authorization": f"Bearer {laptop}"}
    with httpx.Client(base_url=server.url) as c:
        assert c.get("/api/v1/me", headers=as_phone).status_code == 200  # now in the cache
        assert c.get("/api/v1/me", headers=as_laptop).status_code == 200
        phone_session = next(s for s in c.get("/api/v1/auth/sessions", headers=as_laptop).json()
                             if not s["current"])
        assert c.delete(f"/api/v1/auth/sessions/{phone_session['id']}", headers=as_laptop).status_code == 204
        assert c.get("/api/v1/me", headers=as_phone).status_code == 401
        assert c.post("/api/v1/auth/logout", headers=as_laptop).status_code == 204
        assert c.get("/api/v1/me", headers=as_laptop).status_code == 401


def test_cache_entries_expire_and_carry_the_current_address() -> None:
    from dataclasses import dataclass

    @dataclass(frozen=True)
    class FakeActor:
        ip: str | None

    cache = SessionCache(ttl=60)
    actor: Actor = FakeActor("10.0.0.1")  # type: ignore[assignment]
    cache.put("token", actor)
    assert cache.get("token", "10.0.0.1") is actor
    assert cache.get("token", "10.0.0.2").ip == "10.0.0.2"  # audit entries name the request's address
    assert cache.get("other", "10.0.0.1") is None
    cache.clear()
    assert cache.get("token", "10.0.0.1") is None
    expired = SessionCache(ttl=0.0)
    expired.put("token", actor)
    assert expired.get("token", "10.0.0.1") is None
    assert SessionCache.may_change_access("DELETE", "/api/v1/auth/sessions/x")
    assert SessionCache.may_change_access("POST", "/api/v1/users/x/deactivate")
    assert not SessionCache.may_change_access("GET", "/api/v1/auth/sessions")
    assert not SessionCache.may_change_access("POST", "/api/v1/conversations/x/messages")
    assert not SessionCache.may_change_access("POST", "/api/v1/conversations/x/read")
    # any other change, API or page, present or future, goes to the database
    assert SessionCache.may_change_access("POST", "/logout")
    assert SessionCache.may_change_access("POST", "/admin/people/x/deactivate")
    assert SessionCache.may_change_access("PUT", "/api/v1/anything-new")
    assert SessionCache.may_change_access("PATCH", "/api/v1/conversations/x/messages/y")


async def test_a_page_sign_out_also_ends_cached_api_use(installation: Installation, server: Server) -> None:
    """Pages authenticate on their own; a change made through a page must still empty the cache."""
    svc = installation.services
    org = await new_org(svc)
    nurse = await new_member(svc, org, "nurse")
    token = login(server.url, nurse)
    with httpx.Client(base_url=server.url) as c:
        assert c.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200  # cached
        # any state-changing page request empties the cache; then the revocation is seen at once
        from chevet.app.identity import auth

        actor = await auth.authenticate(svc, token)
        await auth.logout(svc, actor)
        c.post("/logout")  # a page write (refused without its form token, but it passes the middleware)
        assert c.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
