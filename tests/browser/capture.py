"""Screenshots of the main screens (phone 360 px and desktop 1280 px) and the page-weight
figures reported in docs/performance.md. Run on demand, not by the test suite:

    .venv/bin/python -m tests.browser.capture docs/screenshots

It builds a throw-away installation with a realistic day of messages, serves it on loopback
and drives Debian's Chromium."""

from __future__ import annotations

import asyncio
import io
import json
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

import httpx
from PIL import Image, ImageDraw
from playwright.async_api import async_playwright

from chevet.app.identity import organisations, people
from chevet.app.messaging import conversations, messages, teams
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, sign_in
from tests.support import Server, login, new_installation, new_member

LINES = ["Relève de nuit : Mme R. a peu dormi, agitée vers 3h, rassurée.",
         "Pansement talon gauche refait, plaie propre, pas de rougeur.",
         "Tension 13/8 ce matin, glycémie 1,1 g/L.",
         "Famille prévenue pour la visite du médecin jeudi.",
         "Elle a bien mangé à midi, hydratation à surveiller."]


async def _seed(tmp: Path) -> tuple[Any, dict[str, Any]]:
    inst = await new_installation(tmp / "data", None)
    svc = inst.services
    org = await organisations.create_organisation(svc, "ehpad-les-tilleuls", "EHPAD Les Tilleuls")
    admin = await new_member(svc, org, "admin", "Claire Martin")
    nurse = await new_member(svc, org, "nurse", "Sophie Bernard")
    doctor = await new_member(svc, org, "physician", "Paul Lefèvre")
    aide = await new_member(svc, org, "care_assistant", "Julie Petit")
    team = await teams.create_team(svc, admin.actor, "Unité Alzheimer", [nurse.id, doctor.id, aide.id])
    care, _ = await conversations.create_conversation(svc, nurse.actor, kind="care_case", title="Chute chambre 12",
                                                      member_ids=[doctor.id, aide.id], care_case_ref="CH12-R")
    cid = uuid.UUID(care["id"])
    for i in range(24):
        who = (nurse, aide, doctor)[i % 3]
        await messages.send_message(svc, who.actor, cid, body=LINES[i % len(LINES)], client_id=f"s{i}")
    await messages.send_message(svc, aide.actor, cid, urgent=True, client_id="urg",
                                body="Chute ce matin à 6h, hématome frontal. @Paul Lefèvre peux-tu passer ?")
    await conversations.create_conversation(svc, admin.actor, kind="team", title="Unité Alzheimer", member_ids=[],
                                            team_id=uuid.UUID(team["id"]))
    group, _ = await conversations.create_conversation(svc, doctor.actor, kind="group", title="Transmissions",
                                                       member_ids=[nurse.id, aide.id])
    await messages.send_message(svc, doctor.actor, uuid.UUID(group["id"]), body="Staff à 14h.", client_id="g")
    await conversations.create_conversation(svc, doctor.actor, kind="direct", title=None, member_ids=[nurse.id])
    await people.invite_person(svc, org, admin.actor, email="lea.roux@tilleuls.example", name="Léa Roux",
                               role="nurse")
    return inst, {"nurse": nurse, "admin": admin, "doctor": doctor, "aide": aide, "care": care["id"]}


# The console as the administrator sees it (every section).
CONSOLE = {"admin-people": "/admin/people", "console": "/console",
           "console-traces": "/gouvernance/traces?case=CH12-R", "console-retention": "/gouvernance/conservation",
           "console-receipt": "/gouvernance/recu",
           "console-register": "/gouvernance/registre", "console-breaches": "/gouvernance/violations",
           "console-jobs": "/gouvernance/travaux", "console-import": "/admin/people/import",
           "console-recipients": "/admin/signalement", "console-sobriety": "/admin/sobriety",
           "console-evidence": "/gouvernance/preuves"}


async def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        inst, who = await _seed(Path(tmp))
        server = Server(inst.settings)
        try:
            async with async_playwright() as pw:
                browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
                figures = await _measure(browser, server.url, who)
                print(json.dumps(figures, indent=2))
                await _phone_moments(browser, server.url, who, out)
                for width, height, tag in ((360, 780, "phone"), (1280, 800, "desktop")):
                    ctx = await browser.new_context(locale="fr-FR", viewport={"width": width, "height": height})
                    page = await ctx.new_page()
                    await page.goto(server.url + "/login")
                    await page.screenshot(path=str(out / f"login-{tag}.png"))
                    await sign_in(page, server.url, who["doctor"] if tag == "phone" else who["nurse"], 1)
                    shots = {"list": "/", "conversation": f"/c/{who['care']}", "new": "/new", "account": "/account",
                             "search": "/search?q=tal"}
                    for name, path in shots.items():
                        await page.goto(server.url + path)
                        await page.wait_for_load_state("networkidle")
                        await page.screenshot(path=str(out / f"{name}-{tag}.png"))
                    admin = await (await browser.new_context(locale="fr-FR", viewport={"width": width,
                                                                                     "height": height})).new_page()
                    await sign_in(admin, server.url, who["admin"], 0 if tag == "phone" else 1)
                    for name, path in CONSOLE.items():
                        await admin.goto(server.url + path)
                        await admin.wait_for_load_state("networkidle")
                        await admin.screenshot(path=str(out / f"{name}-{tag}.png"), full_page=name != "console")
                    await ctx.close()
                await browser.close()
        finally:
            server.stop()
            await inst.close()


def _photo() -> bytes:
    """A phone-sized picture with some detail, for the photo editor."""
    img = Image.new("RGB", (1600, 1200), (214, 196, 178))
    draw = ImageDraw.Draw(img)
    for i in range(0, 1600, 40):
        draw.line([(i, 0), (1600 - i, 1200)], fill=(180 + i % 60, 150, 140), width=6)
    draw.ellipse([620, 420, 980, 780], fill=(196, 120, 110))
    out = io.BytesIO()
    img.save(out, "JPEG", quality=85)
    return out.getvalue()


async def _phone_moments(browser: Any, base: str, who: dict[str, Any], out: Path) -> None:
    """The phone screens of moments rather than pages: a mention being written, the pill over
    new messages, a message waiting offline, the photo editor, the end of a session, an
    invitation made and the enrolment it opens."""
    phone = {"locale": "fr-FR", "viewport": {"width": 360, "height": 780}}
    ctx = await browser.new_context(**phone)
    page = await ctx.new_page()
    await sign_in(page, base, who["aide"], 0)
    await page.goto(f"{base}/c/{who['care']}")
    await page.wait_for_load_state("networkidle")
    textarea = page.get_by_label("Message", exact=True)
    await textarea.click()
    await page.keyboard.type("Merci @pa")
    await page.get_by_role("listbox", name="Membres à mentionner").wait_for()
    await page.screenshot(path=str(out / "mention-phone.png"))
    await page.keyboard.press("Escape")
    await textarea.fill("")
    await textarea.blur()

    await page.evaluate("scrollTo({top: 0, behavior: 'instant'})")
    token = login(base, who["doctor"], 0)  # a colleague's message, through the server's API
    httpx.post(f"{base}/api/v1/conversations/{who['care']}/messages", headers={"Authorization": f"Bearer {token}"},
               json={"body": "Famille prévenue, elle passera ce soir.", "client_id": uuid.uuid4().hex})
    await page.get_by_role("button", name="Nouveaux messages ↓").wait_for()
    await page.screenshot(path=str(out / "new-messages-pill-phone.png"))

    await ctx.set_offline(True)
    await page.get_by_role("button", name="Nouveaux messages ↓").click()
    await textarea.fill("Pansement refait à 14h, plaie propre.")
    await page.get_by_role("button", name="Envoyer").click()
    await page.locator(".msg.waiting").wait_for()
    await page.screenshot(path=str(out / "waiting-offline-phone.png"))
    await ctx.set_offline(False)
    await page.locator(".msg.waiting").wait_for(state="detached")

    payload: Any = [{"name": "talon.jpg", "mimeType": "image/jpeg", "buffer": _photo()}]
    await page.get_by_label("Joindre un fichier").set_input_files(files=payload)
    await page.get_by_role("dialog").wait_for()
    await page.wait_for_timeout(300)
    await page.screenshot(path=str(out / "photo-editor-phone.png"))
    await page.keyboard.press("Escape")
    await ctx.close()

    ctx = await browser.new_context(**phone)
    page = await ctx.new_page()
    await page.goto(f"{base}/login?notice=session_expired&next=/c/{who['care']}")
    await page.screenshot(path=str(out / "session-ended-phone.png"))
    await sign_in(page, base, who["admin"], -1)
    await page.goto(f"{base}/admin/people")
    await page.locator("details.card summary").click()
    await page.locator("#i-name").fill("Inès Garnier")
    await page.locator("#i-email").fill("ines.garnier@tilleuls.example")
    await page.locator("#i-role").select_option("nurse")
    await page.locator("form[action='/admin/people/invite'] button[type=submit]").click()
    result = page.locator(".invite-result")
    await result.wait_for()
    await result.scroll_into_view_if_needed()
    await page.screenshot(path=str(out / "invitation-made-phone.png"))
    link = await page.locator("[data-invite-link]").input_value()
    await ctx.close()

    ctx = await browser.new_context(**phone)
    page = await ctx.new_page()
    await page.goto(link)
    await page.locator("#password").fill("une phrase de passe bien longue")
    await page.locator("#password2").fill("une phrase de passe bien longue")
    await page.get_by_role("button", name="Continuer").click()
    await page.get_by_role("link", name="Ouvrir dans l'application d'authentification").wait_for()
    await page.screenshot(path=str(out / "enrolment-phone.png"))
    await ctx.close()


async def _measure(browser: Any, base: str, who: dict[str, Any]) -> dict[str, Any]:
    login_ctx = await browser.new_context(locale="fr-FR")
    page = await login_ctx.new_page()
    await sign_in(page, base, who["nurse"])
    cookies = await login_ctx.cookies()
    await login_ctx.close()
    # Service workers blocked so that the figures are what the HTTP layer transfers (with the
    # worker, the static files come from its cache and cost nothing either).
    ctx = await browser.new_context(locale="fr-FR", viewport={"width": 360, "height": 780},
                                    service_workers="block")
    await ctx.add_cookies(cookies)
    page = await ctx.new_page()
    cdp = await ctx.new_cdp_session(page)
    await cdp.send("Network.enable")
    sizes: dict[str, float] = {}
    urls: dict[str, str] = {}
    frames: list[int] = []
    posted: dict[str, int] = {}
    cdp.on("Network.requestWillBeSent", lambda e: (urls.__setitem__(e["requestId"], e["request"]["url"]),
                                                   posted.__setitem__(e["requestId"],
                                                                      len(e["request"].get("postData", "")))))
    cdp.on("Network.loadingFinished", lambda e: sizes.__setitem__(e["requestId"], e["encodedDataLength"]))
    cdp.on("Network.webSocketFrameReceived", lambda e: frames.append(len(e["response"]["payloadData"])))

    def snapshot() -> tuple[int, int]:
        http = [k for k, u in urls.items() if u.startswith("http")]
        return len(http), int(sum(sizes.get(k, 0) for k in http))

    await page.goto(f"{base}/c/{who['care']}")
    await page.wait_for_load_state("networkidle")
    await page.wait_for_timeout(1000)
    first = snapshot()
    urls.clear(), sizes.clear(), posted.clear()
    await page.goto(base + "/")
    await page.wait_for_load_state("networkidle")
    urls.clear(), sizes.clear()
    await page.goto(f"{base}/c/{who['care']}")
    await page.wait_for_load_state("networkidle")
    await page.wait_for_timeout(500)
    second = snapshot()
    urls.clear(), sizes.clear(), posted.clear(), frames.clear()
    await page.get_by_label("Message", exact=True).fill("Vu, je repasse à 11h pour la tension.")
    await page.get_by_role("button", name="Envoyer").click()
    await page.wait_for_timeout(1500)
    sends = [k for k, u in urls.items() if u.endswith("/send")]
    round_trip = {"post_body": sum(posted.get(k, 0) for k in sends),
                  "response_with_headers": int(sum(sizes.get(k, 0) for k in sends)),
                  "stream_frames": frames[:]}
    await ctx.close()
    return {"first_load": {"requests": first[0], "bytes": first[1]},
            "second_navigation": {"requests": second[0], "bytes": second[1]}, "send_round_trip": round_trip}


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots")))
