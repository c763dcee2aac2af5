"""The issue's scenario in real browsers: a nurse and a physician, each in their own browser
context, sign in with password + TOTP; the nurse opens a care case and sends an urgent
message; the physician sees it arrive live, without reloading, and replies. Then the same
with JavaScript disabled, by reloading."""

from __future__ import annotations

from typing import Any

from playwright.async_api import Browser, expect

from chevet.bootstrap import Installation
from tests.browser.conftest import french_context, sign_in
from tests.support import Server, new_member, new_org

URGENT = "Chute de Mme R. à 6h, hématome frontal, merci de passer ce matin"
REPLY = "Je passe à 9h, surveillance neurologique d'ici là"


async def test_live_care_case_between_nurse_and_physician(browser: Browser, installation: Installation,
                                                        server: Server) -> None:
    svc = installation.services
    org = await new_org(svc, "ehpad-flow")
    nurse = await new_member(svc, org, "nurse", "Sophie Bernard")
    doctor = await new_member(svc, org, "physician", "Paul Lefèvre")
    nurse_ctx, doctor_ctx = await french_context(browser), await french_context(browser)
    n, d = await nurse_ctx.new_page(), await doctor_ctx.new_page()
    await sign_in(n, server.url, nurse)
    await sign_in(d, server.url, doctor)
    await d.evaluate("window.__notReloaded = true")

    await n.get_by_role("link", name="Nouvelle conversation").click()
    await n.get_by_label("Suivi patient").check()
    await n.get_by_label("Nom de la conversation").fill("Chute chambre 12")
    await n.get_by_label("Référence du patient").fill("CH12-R")
    await n.get_by_label("Paul Lefèvre").check()
    await n.get_by_role("button", name="Créer la conversation").click()
    await expect(n.get_by_role("heading", level=1)).to_have_text("Chute chambre 12")
    await n.get_by_label("Message", exact=True).fill(URGENT)
    await n.get_by_label("Urgent").check()
    await n.get_by_role("button", name="Envoyer").click()
    await expect(n.locator(".msg.mine .body")).to_have_text(URGENT)

    # The physician's list shows the new care case and its urgent marker without a reload.
    row = d.locator("#convs li", has_text="Chute chambre 12")
    await expect(row).to_be_visible()
    await expect(row.locator(".urgent-tag")).to_be_visible()
    assert await d.evaluate("window.__notReloaded === true")
    await row.get_by_role("link").click()
    await expect(d.locator(".msg.urgent .body")).to_have_text(URGENT)
    await expect(d.locator(".banner.urgent")).to_contain_text("Message urgent de Sophie Bernard")

    # While both screens are open, a second message arrives live, then the physician replies.
    await d.evaluate("window.__notReloaded = true")
    await n.get_by_label("Message", exact=True).fill("Tension 13/8, patiente consciente")
    await n.get_by_role("button", name="Envoyer").click()
    await expect(d.locator(".msg .body").last).to_have_text("Tension 13/8, patiente consciente")
    assert await d.evaluate("window.__notReloaded === true")
    await d.locator(".msg.urgent").get_by_role("link", name="Répondre").click()
    await expect(d.locator(".replying")).to_contain_text("Sophie Bernard")
    await d.get_by_label("Message", exact=True).fill(REPLY)
    await d.get_by_role("button", name="Envoyer").click()
    await n.evaluate("window.__notReloaded = true")
    reply = n.locator(".msg", has_text=REPLY)
    await expect(reply).to_be_visible()
    await expect(reply.locator(".quote")).to_contain_text("Sophie Bernard")
    assert await n.evaluate("window.__notReloaded === true")

    # Signing out ends the session on the server and clears the tab's drafts.
    await n.get_by_label("Message", exact=True).fill("brouillon non envoyé")
    await n.get_by_role("link", name="Mon compte").click()
    await n.get_by_role("button", name="Se déconnecter").click()
    await expect(n.get_by_text("Vous êtes déconnecté.")).to_be_visible()
    assert await n.evaluate("sessionStorage.length") == 0
    await n.goto(server.url + "/")
    await expect(n).to_have_url(f"{server.url}/login")
    await nurse_ctx.close()
    await doctor_ctx.close()


async def test_same_flow_without_javascript(browser: Browser, web_installation: Installation,
                                            web_server: Server) -> None:
    svc = web_installation.services
    org = await new_org(svc, "ehpad-nojs")
    nurse = await new_member(svc, org, "nurse", "Karim Haddad")
    doctor = await new_member(svc, org, "physician", "Anne Morel")
    contexts: list[Any] = [await french_context(browser, java_script_enabled=False) for _ in range(2)]
    n, d = await contexts[0].new_page(), await contexts[1].new_page()
    await sign_in(n, web_server.url, nurse)
    await sign_in(d, web_server.url, doctor)

    await n.goto(f"{web_server.url}/new")
    await n.get_by_label("Suivi patient").check()
    await n.get_by_label("Nom de la conversation").fill("Escarre talon")
    await n.get_by_label("Référence du patient").fill("CH4")
    await n.get_by_label("Anne Morel").check()
    await n.get_by_role("button", name="Créer la conversation").click()
    await n.get_by_label("Message", exact=True).fill(URGENT)
    await n.get_by_label("Urgent").check()
    await n.get_by_role("button", name="Envoyer").click()
    await expect(n.locator(".msg.mine .body")).to_have_text(URGENT)

    await d.reload()
    row = d.locator("#convs li", has_text="Escarre talon")
    await expect(row.locator(".urgent-tag")).to_be_visible()
    await expect(row.locator(".count")).to_contain_text("1")
    await row.get_by_role("link").click()
    await expect(d.locator(".banner.urgent")).to_contain_text("Karim Haddad")
    await d.locator(".msg.urgent").get_by_role("link", name="Répondre").click()
    await expect(d.locator(".replying")).to_contain_text("Karim Haddad")
    await d.get_by_label("Message", exact=True).fill(REPLY)
    await d.get_by_role("button", name="Envoyer").click()
    await expect(d.locator(".msg.mine .body")).to_have_text(REPLY)

    await n.reload()
    reply = n.locator(".msg", has_text=REPLY)
    await expect(reply.locator(".quote")).to_contain_text("Karim Haddad")
    await expect(n.locator(".seen").last).to_contain_text("Anne Morel")
    # Reading marked the conversation read for the physician: no unread badge on reload.
    await d.goto(web_server.url + "/")
    await expect(d.locator("#convs li", has_text="Escarre talon").locator(".count")).to_be_hidden()
    for c in contexts:
        await c.close()
