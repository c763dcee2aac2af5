"""Browser fixtures: Debian's Chromium driven by Playwright (never a downloaded browser), a real
`chevet serve` process, and helpers to sign people in with their TOTP code."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from chevet.bootstrap import Installation
from tests.support import IN_CI, Member, Server, new_installation

CHROMIUM = Path(os.environ.get("CHEVET_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync"]
ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / ".cache" / "npm" / "node_modules" / "axe-core" / "axe.min.js"


def require_browser() -> None:
    missing = not CHROMIUM.exists()
    try:
        import playwright  # noqa: F401
    except ImportError:
        missing = True
    if missing:
        if IN_CI:
            pytest.fail("Chromium (/usr/bin/chromium) and playwright are required in CI: run .ci/setup-browsers")
        pytest.skip("Chromium or playwright not installed (run .ci/setup-browsers)")


@pytest.fixture
async def browser() -> AsyncIterator[object]:
    require_browser()
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        b = await pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            await b.close()


@pytest.fixture
async def web_installation(tmp_path: Path) -> AsyncIterator[Installation]:
    """SQLite only: the browser tests are about the client; the flow test also runs on PostgreSQL."""
    inst = await new_installation(tmp_path / "data", None)
    try:
        yield inst
    finally:
        await inst.close()


@pytest.fixture
def web_server(web_installation: Installation) -> AsyncIterator[Server]:
    srv = Server(web_installation.settings)
    try:
        yield srv
    finally:
        srv.stop()


async def french_context(browser: object, **options: object) -> object:
    """A browser context whose language is French, as on a ward computer."""
    ctx = await browser.new_context(locale="fr-FR", **options)  # type: ignore[attr-defined]
    ctx.set_default_timeout(10_000)
    return ctx


async def sign_in(page: object, base: str, member: Member, offset_steps: int = 0) -> None:
    p = page  # a playwright Page
    await p.goto(f"{base}/login")  # type: ignore[attr-defined]
    await p.get_by_label("Adresse e-mail").fill(member.email)  # type: ignore[attr-defined]
    await p.get_by_label("Mot de passe").fill(member.password)  # type: ignore[attr-defined]
    await p.get_by_label("Code à 6 chiffres").fill(member.otp(offset_steps))  # type: ignore[attr-defined]
    await p.get_by_role("button", name="Se connecter").click()  # type: ignore[attr-defined]
    await p.wait_for_url(f"{base}/")  # type: ignore[attr-defined]
