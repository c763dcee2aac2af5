"""Sending files from the web client at 360×780: a phone photo is shown for editing, resized and
stripped in the browser, uploaded in resumable pieces on a slow link, and shown live to the other
member; arrows, circles and blur are in the uploaded pixels; Annuler withdraws the upload; a
refused type is named in words."""

from __future__ import annotations

import asyncio
import io
import json
import math
import random
import re
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageStat
from playwright.async_api import Browser, BrowserContext, Page, expect

from chevet.app.messaging import conversations
from chevet.bootstrap import Installation
from tests.browser.conftest import AXE, french_context, sign_in
from tests.media_samples import pdf, phone_photo
from tests.support import Member, Server, new_member, new_org

PHONE = {"width": 360, "height": 780}
SLOW = {"offline": False, "latency": 400, "downloadThroughput": 512_000 / 8, "uploadThroughput": 512_000 / 8}
DIALOG = "Aperçu de la photo avant envoi"


def noisy(width: int, height: int, seed: int = 5) -> bytes:
    """Pure noise: any smoothing shows as a fall in local variance."""
    rnd = random.Random(seed)
    img = Image.frombytes("RGB", (width, height), rnd.randbytes(width * height * 3))
    out = io.BytesIO()
    img.save(out, "JPEG", quality=92)
    return out.getvalue()


async def ward(svc: Any, slug: str) -> tuple[Member, Member, str, Any]:
    org = await new_org(svc, slug)
    nurse = await new_member(svc, org, "nurse", "Sophie Bernard")
    doctor = await new_member(svc, org, "physician", "Paul Lefèvre")
    view, _ = await conversations.create_conversation(svc, nurse.actor, kind="care_case", title="Escarre talon",
                                                      member_ids=[doctor.id], care_case_ref="CH4")
    return nurse, doctor, view["id"], org


async def open_as(browser: Browser, server: Server, member: Member, cid: str, **options: Any
                  ) -> tuple[BrowserContext, Page]:
    ctx: Any = await french_context(browser, viewport=PHONE, **options)
    page = await ctx.new_page()
    await sign_in(page, server.url, member)
    await page.goto(f"{server.url}/c/{cid}")
    return ctx, page


COUNT_SENT = """
window.__sent = 0;
const send = XMLHttpRequest.prototype.send;
XMLHttpRequest.prototype.send = function (body) {
  window.__sent += body instanceof Blob ? body.size : 0;
  return send.call(this, body);
};
"""


async def bytes_sent(page: Page) -> int:
    """Bytes of files the page's uploads handed to the network, pieces lost included."""
    return int(await page.evaluate("window.__sent"))


async def throttle(ctx: BrowserContext, page: Page, conditions: dict[str, Any]) -> None:
    cdp = await ctx.new_cdp_session(page)
    await cdp.send("Network.enable")
    await cdp.send("Network.emulateNetworkConditions", conditions)


async def choose(page: Page, name: str, data: bytes, mime: str = "image/jpeg") -> None:
    payload: Any = [{"name": name, "mimeType": mime, "buffer": data}]
    await page.get_by_label("Joindre un fichier").set_input_files(files=payload)


async def under_way(svc: Any, member: Member) -> int:
    """Bytes of resumable uploads the member has open, and of files uploaded but not sent."""
    async with svc.db.transaction() as tx:
        return int(await tx.uploads.open_bytes(member.actor.org_id, member.id, svc.clock.now().replace(year=2000))
                   + await tx.attachments.usage(member.actor.org_id, member.id))


async def stored_image(page: Page, server: Server, message: Any) -> Image.Image:
    link = await message.locator(".files a[download]").get_attribute("href")
    assert link is not None and uuid.UUID(link.rsplit("/", 1)[-1])
    r = await page.request.get(server.url + link)
    assert r.status == 200 and r.headers["content-type"].startswith("image/")
    return Image.open(io.BytesIO(await r.body()))


async def test_phone_photo_is_resized_in_the_browser_and_reaches_the_other_member_on_a_slow_link(
        browser: Browser, web_installation: Installation, web_server: Server, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    nurse, doctor, cid, _ = await ward(web_installation.services, "ehpad-photo")
    photo = phone_photo(4000, 3000, quality=90)
    assert 3_800_000 <= len(photo) <= 5_000_000, len(photo)  # about 4 MB, like a phone's
    assert Image.open(io.BytesIO(photo)).getexif().get_ifd(0x8825), "the test photo carries a GPS position"
    n_ctx, n = await open_as(browser, web_server, nurse, cid)
    d_ctx, d = await open_as(browser, web_server, doctor, cid)
    await throttle(n_ctx, n, SLOW)
    await n.add_init_script(COUNT_SENT)
    await n.reload()
    steps: list[tuple[str, float]] = []
    n.on("request", lambda r: steps.append((f"{r.method} {r.url.split('/api/v1/')[-1][:20]}", time.monotonic()))
         if "/api/v1/" in r.url or "/send" in r.url else None)
    await expect(n.get_by_text("Photo, PDF ou texte, 20 Mo au plus.")).to_be_visible()  # limits shown before
    await n.get_by_label("Message", exact=True).fill("Photo de l'escarre ce matin")
    started = time.monotonic()
    await choose(n, "talon-gauche.jpg", photo)
    dialog = n.get_by_role("dialog", name=DIALOG)
    await expect(dialog.locator("canvas")).to_be_visible()
    previewed = time.monotonic()
    await dialog.get_by_role("button", name="Envoyer").click()
    clicked = time.monotonic()
    shown = d.locator(".msg", has_text="Photo de l'escarre ce matin")
    await expect(shown.locator("img[alt^='talon-gauche.']")).to_be_visible(timeout=60_000)
    arrived = time.monotonic()
    await expect(dialog).to_have_count(0)
    await expect(n.locator(".pending li")).to_have_count(0)

    stored = await stored_image(d, web_server, shown)
    assert max(stored.size) <= 2048
    assert not stored.getexif() and "exif" not in stored.info and "xmp" not in stored.info
    uploaded = await bytes_sent(n)
    report = {"photo_bytes": len(photo), "uploaded_bytes": uploaded, "stored_size": list(stored.size),
              "seconds_to_preview": round(previewed - started, 2), "seconds_after_envoyer": round(arrived - clicked, 2),
              "seconds_to_recipient": round(arrived - started, 2),
              "requests": [(what, round(at - clicked, 2)) for what, at in steps if at >= clicked]}
    (tmp_path / "photo-timing.json").write_text(json.dumps(report))
    with capsys.disabled():
        print("\nphoto at 512 kbit/s, 400 ms:", json.dumps(report))
    assert uploaded <= 600 * 1024  # a 4 MB photo leaves the phone as a few hundred KB
    await d.reload()  # and the same without the live stream
    await expect(d.locator(".msg img[alt^='talon-gauche.']")).to_have_count(1)
    await n_ctx.close()
    await d_ctx.close()


async def test_envoyer_is_disabled_while_uploading_and_annuler_withdraws_the_upload(
        browser: Browser, web_installation: Installation, web_server: Server) -> None:
    svc = web_installation.services
    nurse, _, cid, _ = await ward(svc, "ehpad-annuler")
    ctx, page = await open_as(browser, web_server, nurse, cid)
    await throttle(ctx, page, {**SLOW, "uploadThroughput": 48_000 / 8})  # a poor link: time to look
    await choose(page, "plaie.jpg", phone_photo(2000, 1500, detail=0.3))
    dialog = page.get_by_role("dialog", name=DIALOG)
    send = dialog.get_by_role("button", name="Envoyer")
    await send.click()
    await expect(send).to_be_disabled()
    await expect(page.locator("#composer button[type=submit]")).to_be_disabled()
    await expect(dialog.get_by_role("progressbar")).to_be_visible()
    for _ in range(100):  # the upload exists on the server
        if await under_way(svc, nurse):
            break
        await page.wait_for_timeout(100)
    assert await under_way(svc, nurse) > 0
    await dialog.get_by_role("button", name="Annuler").click()
    await expect(dialog).to_have_count(0)
    await expect(page.locator(".pending li")).to_have_count(0)
    await expect(page.locator("#composer button[type=submit]")).to_be_enabled()
    for _ in range(100):
        if not await under_way(svc, nurse):
            break
        await page.wait_for_timeout(100)
    assert await under_way(svc, nurse) == 0  # nothing left on the server
    await ctx.close()


class CuttingProxy:
    """A TCP relay in front of the server that drops the connection once, when half of the body
    of the first piece of an upload (a PATCH) has gone through, then refuses connections
    for 1.5 s: the server receives part of the piece, the browser sees the network fail, as when
    a phone loses the signal in a lift."""

    def __init__(self, target: str) -> None:
        host, port = target.removeprefix("http://").split(":")
        self.target = (host, int(port))
        self.cut = False
        self.sent = 0  # bytes that went to the server from the first upload request on
        self.down_until = 0.0
        self.open: set[asyncio.StreamWriter] = set()
        self.url = ""
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()

    async def _relay(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        if asyncio.get_running_loop().time() < self.down_until:  # no signal for a while
            client_w.transport.abort()
            return
        try:
            server_r, server_w = await asyncio.open_connection(*self.target)
        except OSError:
            client_w.transport.abort()
            return
        self.open |= {client_w, server_w}

        async def pump(r: asyncio.StreamReader, w: asyncio.StreamWriter, watch: bool) -> None:
            body, length = -1, 0  # bytes of the watched piece's body gone through, and its length
            try:
                while data := await r.read(16384):
                    if watch and not self.cut:
                        start = data.find(b"PATCH /api/v1/uploads/")
                        if body < 0 and start >= 0:
                            head, _, rest = data[start:].partition(b"\r\n\r\n")
                            found = re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)
                            body, length = len(rest), int(found.group(1)) if found else 0
                        elif body >= 0:
                            body += len(data)
                        if body >= 0 and body >= length // 2:
                            self.cut = True
                            keep = len(data) - (body - length // 2)
                            w.write(data[:keep])
                            await w.drain()
                            self.sent += keep
                            self.down_until = asyncio.get_running_loop().time() + 1.5
                            for writer in self.open:  # the signal is gone for every connection
                                writer.transport.abort()
                            return
                    if watch and (self.cut or body >= 0):
                        self.sent += len(data)
                    w.write(data)
                    await w.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                w.close()
                self.open.discard(w)

        await asyncio.gather(pump(client_r, server_w, True), pump(server_r, client_w, False))


async def test_a_dropped_connection_resumes_at_the_servers_offset_and_the_photo_arrives_once(
        browser: Browser, web_installation: Installation, web_server: Server) -> None:
    svc = web_installation.services
    nurse, doctor, cid, _ = await ward(svc, "ehpad-reprise")
    proxy = CuttingProxy(web_server.url)
    await proxy.start()
    ctx: Any = await french_context(browser, viewport=PHONE)
    page = await ctx.new_page()
    await sign_in(page, proxy.url, nurse)
    await page.goto(f"{proxy.url}/c/{cid}")
    await throttle(ctx, page, SLOW)
    offsets: list[str] = []
    page.on("request", lambda r: offsets.append(r.headers.get("upload-offset", "")) if r.method == "PATCH" else None)
    await page.get_by_label("Message", exact=True).fill("Après la coupure")
    await choose(page, "plaie.jpg", phone_photo(4000, 3000, quality=90))
    await page.get_by_role("dialog", name=DIALOG).get_by_role("button", name="Envoyer").click()
    message = page.locator(".msg", has_text="Après la coupure")
    await expect(message.locator("img")).to_have_count(1, timeout=30_000)
    assert proxy.cut
    assert len(offsets) == 2 and offsets[0] == "0" and int(offsets[1]) > 40_000, offsets  # resumed, not restarted
    href = await message.locator(".files a[download]").get_attribute("href")
    async with svc.db.transaction() as tx:
        att = await tx.attachments.get(nurse.actor.org_id, uuid.UUID(str(href).rsplit("/", 1)[-1]))
    assert att is not None
    print(f"\nresumed upload: {proxy.sent} bytes sent for a file of {att.uploaded_size}, resumed at {offsets[1]}")
    assert proxy.sent < 1.5 * att.uploaded_size, (proxy.sent, att.uploaded_size)
    d_ctx, d = await open_as(browser, web_server, doctor, cid)
    await expect(d.locator(".msg", has_text="Après la coupure").locator("img")).to_have_count(1)
    assert await d.locator(".files img").count() == 1  # the file arrived once
    await d_ctx.close()
    await ctx.close()
    await proxy.close()


async def test_arrow_circle_and_blur_drawn_on_the_photo_are_in_the_uploaded_pixels(
        browser: Browser, web_installation: Installation, web_server: Server) -> None:
    nurse, _, cid, _ = await ward(web_installation.services, "ehpad-flou")
    ctx, page = await open_as(browser, web_server, nurse, cid)
    original = noisy(1600, 1200)
    await page.get_by_label("Message", exact=True).fill("Visage flouté")
    await choose(page, "chambre.jpg", original)
    dialog = page.get_by_role("dialog", name=DIALOG)
    canvas = dialog.locator("canvas")
    await expect(canvas).to_be_visible()
    box = await canvas.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]

    def at(fx: float, fy: float) -> tuple[float, float]:
        return box["x"] + fx * box["width"], box["y"] + fy * box["height"]

    async def stroke(*points: tuple[float, float]) -> None:
        await page.mouse.move(*at(*points[0]))
        await page.mouse.down()
        for p in points[1:]:
            await page.mouse.move(*at(*p), steps=8)
        await page.mouse.up()

    await expect(dialog.get_by_role("button", name="Flèche")).to_have_attribute("aria-pressed", "true")
    await stroke((0.6, 0.8), (0.85, 0.6))  # an arrow towards the wound
    await dialog.get_by_role("button", name="Flou").click()
    await stroke((0.1, 0.3), (0.3, 0.3), (0.5, 0.3))  # a blur brush over a face
    await dialog.get_by_role("button", name="Cercle").click()
    await stroke((0.6, 0.1), (0.9, 0.45))  # a circle around a bedsore, apart from the rest
    await dialog.get_by_role("button", name="Envoyer").click()
    message = page.locator(".msg", has_text="Visage flouté")
    await expect(message.locator("img")).to_be_visible(timeout=30_000)
    stored = (await stored_image(page, web_server, message)).convert("L")
    before = Image.open(io.BytesIO(original)).convert("L").resize(stored.size)
    w, h = stored.size
    region = (int(0.2 * w), int(0.3 * h - 0.015 * w), int(0.4 * w), int(0.3 * h + 0.015 * w))
    blurred, kept = ImageStat.Stat(stored.crop(region)).stddev[0], ImageStat.Stat(before.crop(region)).stddev[0]
    assert blurred < 0.2 * kept, (blurred, kept)
    untouched = (int(0.2 * w), int(0.7 * h), int(0.4 * w), int(0.75 * h))
    assert ImageStat.Stat(stored.crop(untouched)).stddev[0] > 0.5 * kept  # the rest is not blurred
    rgb = (await stored_image(page, web_server, message)).convert("RGB")
    pixels: Any = rgb.load()
    yellow = sum(1 for x in range(int(0.6 * w), int(0.85 * w), 2) for y in range(int(0.6 * h), int(0.8 * h), 2)
                 if pixels[x, y][0] > 200 and pixels[x, y][1] > 170 and pixels[x, y][2] < 90)
    assert yellow > 50, yellow  # the arrow is drawn in the photo

    def is_yellow(x: float, y: float) -> bool:
        r, g, b = pixels[int(x), int(y)]
        return bool(r > 200 and g > 170 and b < 90)

    # The circle is the ellipse inside the dragged box, one unit (1 % of the long side) wider.
    unit = max(w, h) / 100
    cx, cy, rx, ry = 0.75 * w, 0.275 * h, 0.15 * w + unit, 0.175 * h + unit
    ring = [is_yellow(cx + rx * math.cos(a), cy + ry * math.sin(a)) for a in (i * math.pi / 18 for i in range(36))]
    assert sum(ring) >= 32, ring  # drawn on its whole round (noise is yellow on about 1 pixel in 40)
    centre = (int(cx - 0.05 * w), int(cy - 0.05 * h), int(cx + 0.05 * w), int(cy + 0.05 * h))
    inside = sum(is_yellow(x, y) for x in range(centre[0], centre[2]) for y in range(centre[1], centre[3]))
    assert inside < 0.1 * (centre[2] - centre[0]) * (centre[3] - centre[1]), inside  # not filled
    gray = stored.crop(centre)
    assert ImageStat.Stat(gray).stddev[0] > 0.5 * ImageStat.Stat(before.crop(centre)).stddev[0]  # nor blurred
    await ctx.close()


async def test_the_editor_works_with_the_keyboard_and_escape_cancels(
        browser: Browser, web_installation: Installation, web_server: Server) -> None:
    svc = web_installation.services
    nurse, _, cid, _ = await ward(svc, "ehpad-clavier")
    ctx, page = await open_as(browser, web_server, nurse, cid)
    await choose(page, "bracelet.jpg", noisy(800, 600))
    dialog = page.get_by_role("dialog", name=DIALOG)
    arrow = dialog.get_by_role("button", name="Flèche")
    await expect(arrow).to_be_focused()  # the tools are reached first
    await page.keyboard.press("Tab")
    await page.keyboard.press("Tab")
    blur = dialog.get_by_role("button", name="Flou")
    await expect(blur).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(blur).to_have_attribute("aria-pressed", "true")
    await expect(arrow).to_have_attribute("aria-pressed", "false")
    undo = dialog.get_by_role("button", name="Défaire")
    await expect(undo).to_be_disabled()
    await dialog.locator("canvas").focus()
    await page.keyboard.press("Enter")
    for _ in range(4):
        await page.keyboard.press("Shift+ArrowRight")
    await page.keyboard.press("Enter")
    await expect(undo).to_be_enabled()  # a stroke was drawn
    await undo.focus()
    await page.keyboard.press("Enter")
    await expect(undo).to_be_disabled()
    await page.keyboard.press("Escape")
    await expect(dialog).to_have_count(0)
    await expect(page.locator(".pending li")).to_have_count(0)
    assert await under_way(svc, nurse) == 0  # nothing was uploaded
    await ctx.close()


async def test_the_photo_dialog_has_no_serious_accessibility_violation(
        browser: Browser, web_installation: Installation, web_server: Server) -> None:
    if not AXE.exists():
        pytest.skip("axe-core not installed (run .ci/setup-browsers)")
    nurse, _, cid, _ = await ward(web_installation.services, "ehpad-axe")
    ctx, page = await open_as(browser, web_server, nurse, cid, bypass_csp=True)  # only to inject axe
    await choose(page, "plaie.jpg", noisy(800, 600))
    await expect(page.get_by_role("dialog", name=DIALOG)).to_be_visible()
    await page.add_script_tag(path=str(AXE))
    result = await page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    bad = [f"{v['id']}: {v['help']} {v['nodes'][0]['target']}" for v in result["violations"]
           if v.get("impact") in ("serious", "critical")]
    assert bad == []
    assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    await ctx.close()


async def test_a_refused_type_is_named_in_words_before_any_upload(
        browser: Browser, web_installation: Installation, web_server: Server) -> None:
    nurse, _, cid, _ = await ward(web_installation.services, "ehpad-type")
    ctx, page = await open_as(browser, web_server, nurse, cid)
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url) if "/uploads" in r.url or "/attachments" in r.url else None)
    await choose(page, "outil.exe", b"MZ\x90\x00" + b"\x00" * 100, "application/x-msdownload")
    await expect(page.locator(".pending li", has_text="outil.exe")).to_contain_text(
        "Ce type de fichier n'est pas accepté : envoyez une photo, un PDF ou un texte.")
    assert "application/" not in (await page.locator(".pending li").inner_text())
    assert requests == []
    await ctx.close()


async def test_a_pdf_goes_up_in_pieces_and_is_sent_with_the_message(
        browser: Browser, web_installation: Installation, web_server: Server) -> None:
    nurse, _, cid, _ = await ward(web_installation.services, "ehpad-pdf")
    ctx, page = await open_as(browser, web_server, nurse, cid)
    await choose(page, "ordonnance.pdf", pdf(), "application/pdf")
    await expect(page.locator(".pending li button", has_text="Retirer")).to_be_visible()
    await expect(page.locator(".pending li progress")).to_have_count(0)  # uploaded
    await page.get_by_role("button", name="Envoyer").click()
    await expect(page.locator(".msg .files", has_text="ordonnance")).to_be_visible()
    await ctx.close()
