"""Screenshots of the main screens (phone 360 px and desktop 1280 px) and the page-weight
figures reported in docs/performance.md. Run on demand, not by the test suite:

    .venv/bin/python -m tests.browser.capture docs/screenshots

It builds a throw-away installation with a realistic day of messages, serves it on loopback
and drives Debian's Chromium."""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

from playwright.async_api import async_playwright

from chevet.app.identity import organisations, people
from chevet.app.messaging import conversations, messages, teams
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, sign_in
from tests.support import Server, new_installation, new_member

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
    return inst, {"nurse": nurse, "admin": admin, "doctor": doctor, "care": care["id"]}


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
