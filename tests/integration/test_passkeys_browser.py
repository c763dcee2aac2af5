"""Passkeys in real Chromium (Debian's, driven by Playwright) with the DevTools virtual
authenticator: a care assistant registers a passkey on the security page, signs out, and signs
in again with the passkey alone; revoking it makes it useless."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import httpx
import pytest

from tests.support import IN_CI, Server, login, new_installation, new_member, new_org

CHROMIUM = os.environ.get("CHEVET_CHROMIUM", "/usr/bin/chromium")


def _browser_or_skip() -> str:
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        if IN_CI:
            pytest.fail(f"Chromium is required in CI ({CHROMIUM})")
        pytest.skip("Chromium not installed")
    return CHROMIUM


async def test_care_assistant_signs_in_with_a_passkey(tmp_path: Path) -> None:
    from playwright.async_api import async_playwright

    executable = _browser_or_skip()
    installation = await new_installation(tmp_path / "data", None)
    svc = installation.services
    org = await new_org(svc, "ehpad-cles")
    assistant = await new_member(svc, org, "care_assistant", "Chloé Martin")
    server = Server(installation.settings)
    base = f"http://localhost:{server.port}"
    try:
        token = login(server.url, assistant)
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=executable, args=["--no-sandbox"])
            context = await browser.new_context(locale="fr-FR")
            page = await context.new_page()
            cdp = await context.new_cdp_session(page)
            await cdp.send("WebAuthn.enable")
            await cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
                "protocol": "ctap2", "transport": "internal", "hasResidentKey": True,
                "hasUserVerification": True, "isUserVerified": True, "automaticPresenceSimulation": True}})
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))

            await context.add_cookies([{"name": "chevet_session", "value": token, "url": base}])
            await page.goto(f"{base}/compte/securite")
            await page.get_by_label("Nom de la clé").fill("Téléphone du service")
            await page.get_by_role("button", name="Ajouter une clé d'accès").click()
            try:
                await page.get_by_text("Clé d'accès enregistrée.").wait_for(timeout=10_000)
            except Exception:
                raise AssertionError(f"{await page.locator('#status').inner_text()} {errors}") from None
            await page.get_by_text("Téléphone du service").wait_for()

            await context.clear_cookies()
            await page.goto(f"{base}/connexion/cle")
            await page.get_by_role("button", name="Se connecter avec une clé d'accès").click()
            await page.wait_for_url(f"{base}/compte/securite", timeout=10_000)
            assert await page.get_by_text("Chloé Martin").count() == 1
            cookie = next(c["value"] for c in await context.cookies() if c["name"] == "chevet_session")
            sessions = httpx.get(f"{server.url}/api/v1/auth/sessions", cookies={"chevet_session": cookie}).json()
            assert [s["method"] for s in sessions if s["current"]] == ["passkey"]

            # Recovery codes are shown once; a passkey sign-in is recent enough to ask for them.
            await page.get_by_role("button", name="Générer de nouveaux codes de secours").click()
            await page.locator("#codes li").nth(9).wait_for(timeout=10_000)
            codes = await page.locator("#codes li").all_inner_texts()
            assert len(set(codes)) == 10 and all(len(c) == 19 for c in codes)
            await page.screenshot(path=str(tmp_path / "security-page.png"), full_page=True)
            r = httpx.post(f"{server.url}/api/v1/auth/login", json={
                "email": assistant.email, "password": assistant.password, "otp": codes[0]})
            assert r.status_code == 200, r.text  # a recovery code replaces the TOTP code, once
            r = httpx.post(f"{server.url}/api/v1/auth/login", json={
                "email": assistant.email, "password": assistant.password, "otp": codes[0]})
            assert r.status_code == 401

            keys = httpx.get(f"{server.url}/api/v1/auth/passkeys", headers={"Authorization": f"Bearer {token}"})
            [key] = keys.json()
            assert key["name"] == "Téléphone du service" and key["last_used_at"]
            assert httpx.delete(f"{server.url}/api/v1/auth/passkeys/{key['id']}",
                                headers={"Authorization": f"Bearer {token}"}).status_code == 204
            await context.clear_cookies()
            await page.goto(f"{base}/connexion/cle")
            await page.get_by_role("button", name="Se connecter avec une clé d'accès").click()
            await page.get_by_text("Échec de la connexion").wait_for(timeout=10_000)
            assert not [c for c in await context.cookies() if c["name"] == "chevet_session"]
            assert not [e for e in errors if "Content Security Policy" in e], errors
            await browser.close()
    finally:
        server.stop()
        await installation.close()
