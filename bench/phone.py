"""The nurse's daily tasks on a phone: taps, bytes and seconds at 512 kbit/s and 400 ms.

One real ``chevet serve`` (SQLite, its own data folder, see ``cluster.py``), Debian's Chromium
through Playwright at 360×780, each person in their own browser context whose page has the
network emulated through CDP (``Network.emulateNetworkConditions``: 400 ms latency, 64,000
bytes/s down and up). Every task is a short scripted sequence of actions; the harness counts
them as they are driven:

- *taps*: every click or tap, including the tap that focuses a field before typing in it, and
  every key press that is not text (Enter, the keyboard's search key). Steps a person takes in
  another application (the authenticator) are counted apart and shown as ``+ n outside``.
- *typed*: characters typed (an e-mail, a password, a 6-digit code, the text of a message).
- *bytes*: TCP payload between the person's browser and the server, both ways (HTTP requests,
  uploads and responses with their headers, WebSocket frames). Each browser context reaches the
  server through its own counting relay on loopback: CDP's ``Network.loadingFinished`` counts
  what comes down, but the page's CDP session sees neither a file body going up nor what the
  service worker fetches. *requests*: HTTP requests the page made (CDP), for comparison with the
  first-load budget.
- *seconds*: from the first action to the visible result (the message on the recipient's
  screen, the list after signing in…), typing being instant (``fill``): the time is the
  application's and the link's, not the typist's.

Each task runs ``runs`` times; the table shows the median of each figure. The selectors and the
small pieces of script each task needs are in ``UI`` at the top, to be adapted when the screens
change; where a new interface is expected (a photo preview with its own "Envoyer", a voice
button ``[data-voice]``, a reply from a notification, an ``otpauth://`` link, signed in straight
after activation), the task detects it in the page and takes that path, so the same command
measures before and after.
"""

from __future__ import annotations

import asyncio
import io
import json
import random
import re
import statistics
import subprocess
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

from bench.cluster import Cluster, free_port

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync",
                 # the voice task records from Chromium's fake microphone (a beep), without a prompt
                 "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]
PHONE = {"width": 360, "height": 780}
LINK = {"offline": False, "latency": 400, "downloadThroughput": 64_000, "uploadThroughput": 64_000}
# "relay": the link is emulated in each phone's relay (below); "cdp": by Chromium's own
# emulation of the page, which misses what passes through the service worker (see the README)
EMULATION = {"by": "relay"}
TIMEOUT_MS = 180_000  # a 4 MB photo at 64,000 B/s takes more than a minute

# Everything a task needs to find in the pages, in one place. Playwright selectors; "role:NAME"
# means get_by_role(role, name=NAME, exact=True); "label:TEXT" means get_by_label(TEXT, exact=True).
UI: dict[str, str] = {
    # sign in
    "login.email": "label:Adresse e-mail",
    "login.password": "label:Mot de passe",
    "login.otp": "label:Code à 6 chiffres",
    "login.submit": "button:Se connecter",
    "list.ready": "#convs li",
    # sign up (invitation)
    "invite.password": "label:Choisissez un mot de passe",
    "invite.password2": "label:Retapez le mot de passe",
    "invite.next": "button:Continuer",
    "enrol.secret": "[data-secret]",
    "enrol.otpauth": "a[href^='otpauth://']",  # after: "Ouvrir dans l'application d'authentification"
    "enrol.code": "label:Code à 6 chiffres affiché par l'application",
    "enrol.submit": "form[action$='/confirm'] button[type=submit]",
    # conversation
    "conv.row": "#convs li:has-text('{title}') a",
    "conv.message": ".msg",
    "conv.body": "label:Message",
    "conv.send": "#composer button[type=submit]",
    "conv.attach": "#composer label[for=files]",  # the visible "Joindre" control
    "conv.uploaded": "#composer .pending input[name=attachment_ids]",  # an upload finished, not yet sent
    "conv.photo_preview_send": "[role=dialog] button:has-text('Envoyer'), dialog[open] button:has-text('Envoyer')",
    "conv.thumbnail": ".msg img[alt^='{name}.']",
    "conv.voice": "[data-voice], #voice .voice-record",  # held to record, released to send
    "conv.audio": ".msg audio",
    # search
    "nav.search": "link:Recherche",
    "search.field": "#q",
    "search.result": ".results li",
}
# Reply from a notification: the service worker's function its "Répondre" action calls with the
# notification's data (the conversation's address, the person it is for) and the typed text.
# Until the worker has it, the task is impossible.
SW_REPLY_PROBE = "typeof self.replyFromNotification === 'function'"
SW_REPLY_CALL = "([url, person, text]) => self.replyFromNotification({url, for: person}, text)"

LINES = ["Relève de nuit : Mme R. a peu dormi, agitée vers 3h, rassurée.",
         "Pansement talon gauche refait, plaie propre, pas de rougeur.",
         "Tension 13/8 ce matin, glycémie 1,1 g/L.",
         "Famille prévenue pour la visite du médecin jeudi.",
         "Elle a bien mangé à midi, hydratation à surveiller."]
TITLE = "Escarre talon"  # where the sending tasks write (20 messages of history)
READ_TITLE = "Chute chambre 12"  # 50 messages nobody adds to: reading and the first load

TASKS = ("sign_up", "sign_in", "read", "send_text", "send_photo", "voice", "notification_reply", "search",
         "first_load")
LABELS = {"sign_up": "Sign up (invitation link → list)", "sign_in": "Sign in (login page → list)",
          "read": "Read (list → conversation of 50 messages)", "send_text": "Send a text (→ on the recipient's screen)",
          "send_photo": "Send a photo, 4000×3000 JPEG 4 MB (→ thumbnail at the recipient)",
          "voice": "Voice message (→ player at the recipient)",
          "notification_reply": "Reply from a notification (→ on the sender's screen)",
          "search": "Search « talon » (list → results)",
          "first_load": "Conversation screen, first load (empty cache)"}


# --- counting relay ------------------------------------------------------------------------
class Shaper:
    """One direction of the phone's link: bytes leave one after the other at ``rate`` bytes/s
    (the next chunk is read only once this one is on the wire) and arrive ``delay`` seconds
    later. Shared by every connection of the phone, as one radio link is."""

    def __init__(self, rate: float, delay: float) -> None:
        self.rate = rate
        self.delay = delay
        self.next_free = 0.0

    async def send(self, n: int) -> float:
        loop = asyncio.get_running_loop()
        start = max(loop.time(), self.next_free)
        self.next_free = start + n / self.rate
        await asyncio.sleep(self.next_free - loop.time())
        return self.next_free + self.delay


class Relay:
    """A TCP relay on loopback in front of the server: it counts the bytes each way and, once
    ``shaped``, emulates the phone's link (see ``LINK``) for everything the browser context
    sends or receives, the service worker's fetches and WebSocket frames included."""

    CHUNK = 4096

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self.up = 0
        self.down = 0
        self.shaped = False
        self.links = {True: Shaper(LINK["uploadThroughput"], LINK["latency"] / 2000),
                      False: Shaper(LINK["downloadThroughput"], LINK["latency"] / 2000)}
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    async def close(self) -> None:
        if self._server:
            self._server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.close()
            return
        try:
            await asyncio.gather(self._pipe(reader, up_writer, True), self._pipe(up_reader, writer, False))
        except asyncio.CancelledError:  # the run is over: connections still open are dropped
            writer.close()
            up_writer.close()

    async def _pipe(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter, upward: bool) -> None:
        queue: asyncio.Queue[tuple[float, bytes] | None] = asyncio.Queue()

        async def deliver() -> None:
            loop = asyncio.get_running_loop()
            try:
                while (item := await queue.get()) is not None:
                    at, chunk = item
                    if at > loop.time():
                        await asyncio.sleep(at - loop.time())
                    dst.write(chunk)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                dst.close()

        task = asyncio.create_task(deliver())
        try:
            while chunk := await src.read(self.CHUNK):
                if upward:
                    self.up += len(chunk)
                else:
                    self.down += len(chunk)
                at = await self.links[upward].send(len(chunk)) if self.shaped else 0.0
                queue.put_nowait((at, chunk))
        except (ConnectionError, OSError):
            pass
        finally:
            queue.put_nowait(None)
            await task


# --- one person's phone --------------------------------------------------------------------
@dataclass
class Outcome:
    task: str
    path: str  # "before" (the interface measured first) or "after" (a new interface detected)
    possible: bool = True
    failed: bool = False  # the harness itself failed: adapt ``UI`` to the screens
    taps: int = 0
    taps_outside: int = 0
    typed: int = 0
    bytes_up: int = 0
    bytes_down: int = 0
    requests: int = 0
    cdp_bytes_down: int = 0
    seconds: float = 0.0
    note: str = ""
    in_view: bool | None = None  # the result within the screen, above the composer

    @property
    def bytes(self) -> int:
        return self.bytes_up + self.bytes_down


class Phone:
    """A browser context at 360×780 behind its own relay, its page on the emulated link."""

    def __init__(self, browser: Any, server_port: int) -> None:
        self.browser = browser
        self.relay = Relay(server_port)
        self.base = f"http://127.0.0.1:{self.relay.port}"
        self.ctx: Any = None
        self.page: Any = None
        self.cdp: Any = None
        self.taps = 0
        self.typed = 0
        self.urls: dict[str, str] = {}
        self.sizes: dict[str, float] = {}
        self.t0 = 0.0
        self.marks: tuple[int, int] = (0, 0)

    async def open(self, cookies: list[dict[str, Any]] | None = None) -> Phone:
        await self.relay.start()
        self.ctx = await self.browser.new_context(locale="fr-FR", viewport=PHONE, is_mobile=True, has_touch=True,
                                                  device_scale_factor=2, permissions=["microphone", "notifications"])
        self.ctx.set_default_timeout(TIMEOUT_MS)
        if cookies:
            await self.ctx.add_cookies([{**c, "domain": "127.0.0.1"} for c in cookies])
        self.page = await self.ctx.new_page()
        self.cdp = await self.ctx.new_cdp_session(self.page)
        await self.cdp.send("Network.enable")
        self.cdp.on("Network.requestWillBeSent", lambda e: self.urls.__setitem__(e["requestId"], e["request"]["url"]))
        self.cdp.on("Network.loadingFinished", lambda e: self.sizes.__setitem__(e["requestId"],
                                                                                e["encodedDataLength"]))
        return self

    async def throttle(self) -> None:
        if EMULATION["by"] == "cdp":
            await self.cdp.send("Network.emulateNetworkConditions", LINK)
        else:
            self.relay.shaped = True

    async def close(self) -> None:
        await self.ctx.close()
        await self.relay.close()

    # what a person does, counted
    def find(self, key: str, **fmt: str) -> Any:
        sel = UI[key].format(**fmt) if fmt else UI[key]
        kind, _, rest = sel.partition(":")
        if kind == "label" and rest:
            return self.page.get_by_label(rest, exact=True)
        if kind in ("button", "link") and rest and not rest.startswith(("has", "not")):
            return self.page.get_by_role(kind, name=rest, exact=True)
        return self.page.locator(sel)

    def shown(self, key: str, **fmt: str) -> Any:
        """The first match a person can see (a phone layout may hide the desktop's copy)."""
        return self.find(key, **fmt).filter(visible=True).first

    async def tap(self, key: str, **fmt: str) -> None:
        await self.shown(key, **fmt).click()
        self.taps += 1

    async def type(self, key: str, text: str) -> None:
        """Tap the field, then type (instantly: the time measured is the application's)."""
        await self.tap(key)
        await self.shown(key).fill(text)
        self.typed += len(text)

    async def key(self, name: str) -> None:
        await self.page.keyboard.press(name)
        self.taps += 1

    def start(self) -> None:
        self.taps = self.typed = 0
        self.urls.clear()
        self.sizes.clear()
        self.marks = (self.relay.up, self.relay.down)
        self.t0 = time.perf_counter()

    def outcome(self, task: str, path: str, note: str = "", outside: int = 0) -> Outcome:
        seconds = time.perf_counter() - self.t0
        http = [u for u in self.urls.values() if u.startswith("http")]
        return Outcome(task, path, taps=self.taps, taps_outside=outside, typed=self.typed,
                       bytes_up=self.relay.up - self.marks[0], bytes_down=self.relay.down - self.marks[1],
                       requests=len(http), cdp_bytes_down=int(sum(self.sizes.values())),
                       seconds=round(seconds, 2), note=note)


def impossible(task: str, reason: str) -> Outcome:
    return Outcome(task, "before", possible=False, note=reason)


IN_VIEW = """(el) => {
  const r = el.getBoundingClientRect(), composer = document.querySelector("#composer");
  const bottom = composer ? Math.min(innerHeight, composer.getBoundingClientRect().top) : innerHeight;
  return r.height > 0 && r.top >= 0 && r.bottom <= bottom + 1;
}"""


async def in_view(outcome: Outcome, result: Any) -> Outcome:
    """Whether the person sees the result without scrolling: inside the screen and not under the
    composer (looked at half a second later, outside the measured seconds)."""
    await asyncio.sleep(0.5)
    outcome.in_view = bool(await result.evaluate(IN_VIEW))
    return outcome


async def visible(phone: Phone, key: str, **fmt: str) -> None:
    await phone.find(key, **fmt).last.wait_for(state="visible")


async def exists(phone: Phone, key: str) -> bool:
    return bool(await phone.find(key).count())


# --- the installation's people and data ----------------------------------------------------
@dataclass
class Person:
    id: uuid.UUID
    email: str
    password: str
    secret: str


@dataclass
class World:
    cluster: Cluster
    nurse: Person
    doctor: Person
    sign_ins: list[Person]
    invitations: list[tuple[str, str]]  # (token, e-mail)
    conversation_id: str
    read_id: str
    photo: bytes
    cursor: dict[str, int] = field(default_factory=dict)

    def otp(self, p: Person, offset: int = 0) -> str:
        from chevet.core import totp

        return str(totp.code_at(p.secret, totp.step_of(time.time()) + offset))

    def next(self, pool: str) -> int:
        self.cursor[pool] = self.cursor.get(pool, -1) + 1
        return self.cursor[pool]


def seed(cluster: Cluster, runs: int) -> World:
    """A nurse and a physician sharing a care case of 50 messages, people to sign in (TOTP codes
    are single-use: one person per sign-in) and open invitations (one per sign-up)."""
    from chevet.app.identity import organisations, people
    from chevet.app.messaging import conversations, messages, teams
    from chevet.app.services import Actor
    from chevet.bootstrap import open_installation
    from chevet.settings import load_settings

    settings = load_settings(cluster.data_dir, environ=cluster.server_env())

    async def go() -> World:
        inst = open_installation(settings, with_bus=False)
        svc = inst.services
        try:
            org = await organisations.organisation_by_slug(svc, cluster.org_slug)

            async def person(name: str, role: str) -> tuple[Person, Actor]:
                password = "une phrase de passe longue"
                email = f"{role}-{uuid.uuid4().hex[:6]}@banc.example"
                added = await people.add_person(svc, org, email=email, name=name, role=role, password=password)
                return (Person(added.person.id, email, password, added.totp_secret),
                        Actor(added.person, org, None, "127.0.0.1"))

            nurse, nurse_actor = await person("Sophie Bernard", "nurse")
            doctor, doctor_actor = await person("Paul Lefèvre", "physician")
            sign_ins = [(await person(f"Infirmière {i + 1}", "nurse"))[0] for i in range(runs)]
            ids = []
            for title, ref, count in ((READ_TITLE, "CH12", 50), (TITLE, "CH4", 20)):
                view, _ = await conversations.create_conversation(svc, nurse_actor, kind="care_case", title=title,
                                                                  member_ids=[doctor.id, *(p.id for p in sign_ins)],
                                                                  care_case_ref=ref)
                cid = uuid.UUID(view["id"])
                ids.append(str(cid))
                for i in range(count):
                    who = doctor_actor if i % 3 == 2 else nurse_actor
                    await messages.send_message(svc, who, cid, body=f"{LINES[i % len(LINES)]} ({i + 1})",
                                                client_id=f"seed-{ref}-{i}")
            # Each invitation names the night team, as an administrator does from the invitation
            # form: its channel is joined on activation.
            _, admin_actor = await person("Claire Martin", "admin")
            night = await teams.create_team(svc, admin_actor, "Équipe de nuit", member_ids=[nurse.id])
            await conversations.create_conversation(svc, admin_actor, kind="team", title="Équipe de nuit",
                                                    member_ids=[], team_id=uuid.UUID(night["id"]))
            invitations = []
            for i in range(runs):
                email = f"aide-{i}-{uuid.uuid4().hex[:4]}@banc.example"
                new = await people.invite_person(svc, org, None, email=email, name=f"Aide-soignante {i + 1}",
                                                 role="care_assistant")
                await teams.add_team_member(svc, admin_actor, uuid.UUID(night["id"]), new.person.id)
                invitations.append((new.token, email))
            return World(cluster, nurse, doctor, sign_ins, invitations, ids[1], ids[0], noisy_photo())
        finally:
            await inst.close()

    return asyncio.run(go())


def noisy_photo(width: int = 4000, height: int = 3000) -> bytes:
    """A phone-like photo: 4000×3000 JPEG of about 4 MB (smooth shapes under sensor-like noise)."""
    from PIL import Image, ImageDraw, ImageFilter

    rnd = random.Random(4)
    img = Image.new("RGB", (width // 8, height // 8), (196, 150, 128))
    draw = ImageDraw.Draw(img)
    for _ in range(60):
        x, y, r = rnd.randrange(width // 8), rnd.randrange(height // 8), rnd.randrange(10, 120)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=(rnd.randrange(256), rnd.randrange(256), rnd.randrange(256)))
    img = img.filter(ImageFilter.GaussianBlur(6)).resize((width, height), Image.Resampling.BICUBIC)
    noise = Image.effect_noise((width, height), 40).convert("RGB")
    img = Image.blend(img, noise, 0.25)
    out = io.BytesIO()
    img.save(out, "JPEG", quality=89)
    return out.getvalue()


# --- the tasks ------------------------------------------------------------------------------
async def sign_in_page(phone: Phone, who: Person, world: World, offset: int = 0) -> None:
    """Signing in without counting (the setting up of a task)."""
    await phone.page.goto(phone.base + "/login")
    await phone.find("login.email").fill(who.email)
    await phone.find("login.password").fill(who.password)
    await phone.find("login.otp").fill(world.otp(who, offset))
    await phone.find("login.submit").click()
    await phone.page.wait_for_url(phone.base + "/")


async def task_sign_up(world: World, browser: Any) -> Outcome:
    from chevet.core import totp

    token, email = world.invitations[world.next("invite")]
    phone = await Phone(browser, world.cluster.ports[0]).open()
    try:
        await phone.throttle()
        phone.start()
        await phone.page.goto(f"{phone.base}/invitation/{token}")  # the link tapped in the e-mail
        phone.taps += 1
        await phone.type("invite.password", "une phrase de passe longue")
        await phone.type("invite.password2", "une phrase de passe longue")
        await phone.tap("invite.next")
        await visible(phone, "enrol.code")
        notes = []
        if await exists(phone, "enrol.otpauth"):
            href = await phone.find("enrol.otpauth").first.get_attribute("href")
            secret = parse_qs(urlparse(href or "").query)["secret"][0]
            phone.taps += 1  # opens the authenticator, which adds the account
            outside = 2  # confirm the new account, come back with the code
            notes.append("otpauth:// link to the authenticator")
        else:
            secret = re.sub(r"\s", "", await phone.find("enrol.secret").first.inner_text())
            # the QR code cannot be scanned by the phone that shows it: the key is typed by hand
            # in the authenticator (switch app, add, enter a key, type it, save, come back)
            outside = 5
            phone.typed += len(secret)
            notes.append(f"QR code unusable on the same phone: {len(secret)}-character key typed in the authenticator")
        await phone.type("enrol.code", totp.code_at(secret, totp.step_of(time.time())))
        await phone.tap("enrol.submit")
        await phone.page.wait_for_load_state("load")
        if urlparse(phone.page.url).path == "/login":
            notes.append("signs in again after activation")
            if not await phone.find("login.email").first.input_value():
                await phone.type("login.email", email)
            await phone.type("login.password", "une phrase de passe longue")
            await phone.type("login.otp", totp.code_at(secret, totp.step_of(time.time()) + 1))
            await phone.tap("login.submit")
            await phone.page.wait_for_url(phone.base + "/")
        await phone.page.get_by_role("heading", level=1).wait_for(state="visible")
        empty = not await exists(phone, "list.ready")
        if empty:
            notes.append("lands on a list without conversations (the invitation names no team)")
        new_ui = notes[0].startswith("otpauth") or "signs in again after activation" not in notes
        return phone.outcome("sign_up", "after" if new_ui else "before", "; ".join(notes), outside)
    finally:
        await phone.close()


async def task_sign_in(world: World, browser: Any) -> Outcome:
    who = world.sign_ins[world.next("sign_in")]
    phone = await Phone(browser, world.cluster.ports[0]).open()
    try:
        await phone.throttle()
        await phone.page.goto(phone.base + "/login")
        await phone.page.wait_for_load_state("load")
        phone.start()
        await phone.type("login.email", who.email)
        await phone.type("login.password", who.password)
        await phone.type("login.otp", world.otp(who))
        await phone.tap("login.submit")
        await phone.page.wait_for_url(phone.base + "/")
        await visible(phone, "list.ready")
        return phone.outcome("sign_in", "before", "from the loaded login page: e-mail, password, 6-digit code")
    finally:
        await phone.close()


@dataclass
class Ward:
    """The nurse's and the physician's phones, signed in, the physician on the care case."""

    nurse: Phone
    doctor: Phone
    world: World

    @property
    def conv_url(self) -> str:
        return f"/c/{self.world.conversation_id}"


async def open_ward(world: World, browser: Any) -> Ward:
    nurse = await Phone(browser, world.cluster.ports[0]).open()
    doctor = await Phone(browser, world.cluster.ports[0]).open()
    await sign_in_page(nurse, world.nurse, world)
    await sign_in_page(doctor, world.doctor, world)
    await doctor.page.goto(doctor.base + f"/c/{world.conversation_id}")
    await nurse.page.goto(nurse.base + f"/c/{world.conversation_id}")
    await nurse.page.wait_for_load_state("networkidle")
    await nurse.throttle()
    await doctor.throttle()
    return Ward(nurse, doctor, world)


async def task_read(ward: Ward) -> Outcome:
    n = ward.nurse
    await n.page.goto(n.base + "/")
    await visible(n, "list.ready")
    await n.page.wait_for_load_state("networkidle")
    n.start()
    await n.tap("conv.row", title=READ_TITLE)
    await n.page.wait_for_url(n.base + f"/c/{ward.world.read_id}")
    last = n.page.locator(".msg .body", has_text="(50)").last
    await last.wait_for(state="visible")
    return await in_view(n.outcome("read", "before", "the last message of 50 shown"), last)


async def _at_conversation(phone: Phone, url: str) -> None:
    if urlparse(phone.page.url).path != url:
        await phone.page.goto(phone.base + url)
    await phone.page.wait_for_load_state("networkidle")


async def task_send_text(ward: Ward) -> Outcome:
    n, d = ward.nurse, ward.doctor
    await _at_conversation(n, ward.conv_url)
    await _at_conversation(d, ward.conv_url)  # the recipient looks at the conversation
    text = f"Pansement refait ce matin, plaie propre ({uuid.uuid4().hex[:6]})"  # not found by « talon »
    n.start()
    await n.type("conv.body", text)
    await n.tap("conv.send")
    shown = d.page.locator(".msg .body", has_text=text)
    await shown.wait_for(state="visible")
    return await in_view(n.outcome("send_text", "before", f"a {len(text)}-character message"), shown)


async def _until_shown_or_ready(ward: Ward, shown: Any, settle: float = 0.0) -> str:
    """Wait until the recipient shows the message or the sender's composer holds a finished
    upload waiting for "Envoyer". With ``settle``, the upload must wait that long untouched (a
    new interface may send it by itself); that pause is the harness's, not the person's: it is
    taken out of the task's seconds."""
    n = ward.nurse
    ready = n.find("conv.uploaded")
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    since: float | None = None
    while time.monotonic() < deadline:
        if await shown.count() and await shown.first.is_visible():
            return "shown"
        if await ready.count():
            since = since or time.monotonic()
            if time.monotonic() - since >= settle:
                n.t0 += time.monotonic() - since
                return "ready"
        else:
            since = None
        await asyncio.sleep(0.05)
    raise TimeoutError("neither shown to the recipient nor ready to send")


async def task_send_photo(ward: Ward) -> Outcome:
    n, d = ward.nurse, ward.doctor
    await _at_conversation(n, ward.conv_url)
    await _at_conversation(d, ward.conv_url)  # the recipient looks at the conversation
    name = f"talon-{uuid.uuid4().hex[:6]}"
    path = "before"
    n.start()
    async with n.page.expect_file_chooser() as chooser:
        await n.tap("conv.attach")
    await (await chooser.value).set_files(files=[{"name": f"{name}.jpg", "mimeType": "image/jpeg",
                                                  "buffer": ward.world.photo}])
    n.taps += 1  # the photo chosen in the gallery
    shown = d.find("conv.thumbnail", name=name)
    preview = n.find("conv.photo_preview_send")
    # after: a preview with its own "Envoyer" (enabled once the upload is done); before: the
    # composer's upload list, then the composer's "Envoyer"
    for _ in range(100):
        if await preview.count() or await n.find("conv.uploaded").count():
            break
        await asyncio.sleep(0.1)
    if await preview.count():
        path = "after"
        await preview.first.wait_for(state="visible")
        await n.page.wait_for_function("(el) => !el.disabled", arg=await preview.first.element_handle())
        await preview.first.click()
        n.taps += 1
    if await _until_shown_or_ready(ward, shown, settle=1.5 if path == "after" else 0.0) == "ready":
        await n.tap("conv.send")
        await shown.first.wait_for(state="visible")
    note = f"photo of {len(ward.world.photo) / 1e6:.1f} MB"
    return await in_view(n.outcome("send_photo", path, note), shown.first)


async def task_voice(ward: Ward) -> Outcome:
    n, d = ward.nurse, ward.doctor
    await _at_conversation(n, ward.conv_url)
    await _at_conversation(d, ward.conv_url)  # the recipient looks at the conversation
    if not await n.find("conv.voice").filter(visible=True).count():
        return impossible("voice", "no voice recording in the composer")
    before = await d.find("conv.audio").count()
    n.start()
    button = n.shown("conv.voice")
    await button.hover()
    await n.page.mouse.down()  # hold to record 3 s
    await asyncio.sleep(3)
    await n.page.mouse.up()
    n.taps += 1
    shown = d.page.locator(f"{UI['conv.audio']} >> nth={before}")
    if await _until_shown_or_ready(ward, shown, settle=1.5) == "ready":
        await n.tap("conv.send")
        await shown.wait_for(state="attached")
    return await in_view(n.outcome("voice", "after", "held 3 s (Chromium's fake microphone)"), shown)


async def task_notification_reply(ward: Ward) -> Outcome:
    """The physician is notified of the nurse's message and replies from the notification."""
    n, d = ward.nurse, ward.doctor
    await d.page.goto(d.base + "/account")
    await d.page.wait_for_load_state("networkidle")
    push_key = await d.page.locator("[data-push-key]").first.get_attribute("data-push-key") \
        if await d.page.locator("[data-push-key]").count() else None
    worker = d.ctx.service_workers[0] if d.ctx.service_workers else None
    can_reply = bool(worker and await worker.evaluate(SW_REPLY_PROBE))
    if not push_key or not can_reply or worker is None:
        reasons = []
        if not push_key:
            reasons.append("no push service enabled by default: no device is notified")
        if not can_reply:
            reasons.append("notifications have no reply action")
        return impossible("notification_reply", "; ".join(reasons))
    text = f"Je passe à 9h ({uuid.uuid4().hex[:6]})"
    await _at_conversation(n, ward.conv_url)
    d.start()
    d.taps += 1  # "Répondre" under the notification
    d.typed += len(text)
    taken = await worker.evaluate(SW_REPLY_CALL, [ward.conv_url, str(ward.world.doctor.id), text])
    if taken is False:
        return impossible("notification_reply", "the service worker did not take the reply")
    d.taps += 1  # the notification's send button
    shown = n.page.locator(".msg .body", has_text=text)
    await shown.wait_for(state="visible")
    return await in_view(d.outcome("notification_reply", "after", "inline reply in the notification"), shown)


async def task_search(ward: Ward) -> Outcome:
    n = ward.nurse
    await n.page.goto(n.base + "/")
    await n.page.wait_for_load_state("networkidle")
    n.start()
    await n.tap("nav.search")
    await n.type("search.field", "talon")
    await n.key("Enter")
    await visible(n, "search.result")
    count = await n.find("search.result").count()
    return n.outcome("search", "before", f"{count} results")


async def task_first_load(world: World, browser: Any, cookies: list[dict[str, Any]]) -> Outcome:
    """As ``tests/browser/test_quality.py`` measures it: a new context holding only the
    session cookie, the conversation page until the network is idle; seconds until the last
    message is shown."""
    phone = await Phone(browser, world.cluster.ports[0]).open(cookies)
    try:
        await phone.throttle()
        phone.start()
        await phone.page.goto(f"{phone.base}/c/{world.read_id}")
        await phone.page.locator(".msg .body", has_text="(50)").last.wait_for(state="visible")
        shown = time.perf_counter() - phone.t0
        await phone.page.wait_for_load_state("networkidle")
        await phone.page.wait_for_timeout(500)
        out = phone.outcome("first_load", "before")
        out.note = first_load_note(out.cdp_bytes_down, out.requests)
        out.seconds = round(shown, 2)
        return out
    finally:
        await phone.close()


def first_load_note(cdp_bytes: int, requests: int) -> str:
    return f"as the page's CDP counts it: {cdp_bytes / 1024:.1f} KiB in {requests} requests (budget 60 KiB, 15)"


# --- running and reporting -------------------------------------------------------------------
def median(outcomes: list[Outcome]) -> dict[str, Any]:
    first = outcomes[0]
    if not first.possible:
        return {"task": first.task, "possible": False, "failed": first.failed, "note": first.note,
                "runs": len(outcomes)}
    num = ["taps", "taps_outside", "typed", "bytes_up", "bytes_down", "requests", "cdp_bytes_down", "seconds"]
    row: dict[str, Any] = {"task": first.task, "possible": True, "path": first.path, "note": first.note,
                           "runs": len(outcomes)}
    for k in num:
        v = statistics.median(getattr(o, k) for o in outcomes)
        row[k] = round(v, 2) if k == "seconds" else int(v)
    row["bytes"] = row["bytes_up"] + row["bytes_down"]
    seen = [o.in_view for o in outcomes if o.in_view is not None]
    if seen:
        row["in_view"] = seen
        if not all(seen):
            row["note"] += (f"; not in view without scrolling (under the composer or below the screen) in "
                            f"{seen.count(False)} of {len(seen)} runs")
    if first.task == "first_load":
        row["note"] = first_load_note(row["cdp_bytes_down"], row["requests"])
    row["seconds_all"] = [o.seconds for o in outcomes]
    return row


def run_phone(runs: int = 3, tasks: tuple[str, ...] = TASKS, screenshots: Path | None = None,
              link: str = "relay") -> dict[str, Any]:
    EMULATION["by"] = link
    cluster = Cluster(database="sqlite")
    try:
        cluster.create()
        cluster.start()
        world = seed(cluster, runs)
        if screenshots:
            screenshots.mkdir(parents=True, exist_ok=True)
        rows = asyncio.run(_drive(world, runs, tasks, screenshots))
    finally:
        cluster.destroy()
    return {"link": {"emulated_by": link, "latency_ms": LINK["latency"], "down_bytes_s": LINK["downloadThroughput"],
                     "up_bytes_s": LINK["uploadThroughput"]}, "viewport": PHONE, "runs": runs,
            "commit": _commit(), "photo_bytes": len(world.photo), "tasks": rows}


async def _drive(world: World, runs: int, tasks: tuple[str, ...], screenshots: Path | None) -> list[dict[str, Any]]:
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        rows: list[dict[str, Any]] = []
        try:
            ward = await open_ward(world, browser)
            cookies = await ward.nurse.ctx.cookies()
            steps: dict[str, Callable[[], Awaitable[Outcome]]] = {
                "sign_up": lambda: task_sign_up(world, browser),
                "sign_in": lambda: task_sign_in(world, browser),
                "read": lambda: task_read(ward),
                "send_text": lambda: task_send_text(ward),
                "send_photo": lambda: task_send_photo(ward),
                "voice": lambda: task_voice(ward),
                "notification_reply": lambda: task_notification_reply(ward),
                "search": lambda: task_search(ward),
                "first_load": lambda: task_first_load(world, browser, cookies),
            }
            for name in tasks:
                outcomes: list[Outcome] = []
                for i in range(runs):
                    try:
                        o = await steps[name]()
                    except Exception as exc:  # one broken task must not lose the others' figures
                        o = impossible(name, f"the harness failed: {type(exc).__name__}: "
                                             f"{str(exc).splitlines()[0] if str(exc) else ''}")
                        o.failed = True
                        if outcomes:  # the earlier runs' figures stand, with a word about this one
                            outcomes[0].note += f" (run {i + 1} failed: {o.note})"
                            break
                    outcomes.append(o)
                    if not o.possible:
                        break
                    if screenshots and i == 0 and name not in ("sign_up", "sign_in", "first_load"):
                        await ward.nurse.page.screenshot(path=str(screenshots / f"phone-{name}.png"))
                        await ward.doctor.page.screenshot(path=str(screenshots / f"phone-{name}-recipient.png"))
                row = median(outcomes)
                print(json.dumps(row, ensure_ascii=False), flush=True)
                rows.append(row)
            await ward.nurse.close()
            await ward.doctor.close()
        finally:
            await browser.close()
        return rows


def _commit() -> str:
    out = subprocess.run(["git", "describe", "--always", "--dirty"], capture_output=True, text=True, check=False,
                         cwd=Path(__file__).parent)
    return out.stdout.strip() or "?"


def _kb(n: int) -> str:
    if n >= 1_000_000:
        return f"{n / 1e6:.1f} MB"
    return f"{n / 1000:.0f} kB" if n >= 10_000 else f"{n / 1000:.1f} kB"


def _cells(row: dict[str, Any] | None, missing: str) -> tuple[str, str, str]:
    if row is None:
        return missing, missing, missing
    if not row["possible"]:
        return ("harness failed" if row.get("failed") else "impossible"), "–", "–"
    taps = str(row["taps"]) + (f" + {row['taps_outside']} outside" if row.get("taps_outside") else "")
    return taps, _kb(row["bytes"]), f"{row['seconds']:.1f}"


def table(result: dict[str, Any]) -> str:
    """This run's daily tasks, one row each, with every figure."""
    lines = ["| task | taps | typed | bytes | requests | seconds | notes |", "|---|---|---|---|---|---|---|"]
    for r in result["tasks"]:
        if not r["possible"]:
            lines.append(f"| {LABELS[r['task']]} | {_cells(r, '')[0]} | | | | | {r['note']} |")
            continue
        taps, kb, s = _cells(r, "")
        lines.append(f"| {LABELS[r['task']]} | {taps} | {r['typed']} | {kb} | {r['requests']} | {s} | {r['note']} |")
    return "\n".join(lines)


def compare(before: dict[str, Any], after: dict[str, Any] | None) -> str:
    """Before and after side by side; without ``after``, its columns say "to be measured"."""
    old = {r["task"]: r for r in before["tasks"]}
    new = {r["task"]: r for r in after["tasks"]} if after else {}
    lines = ["| task | taps before | taps after | bytes before | bytes after | seconds before | seconds after |",
             "|---|---|---|---|---|---|---|"]
    for task in [t for t in TASKS if t in old or t in new]:
        b = _cells(old.get(task), "–")
        a = _cells(new.get(task), "–" if after else "to be measured")
        lines.append(f"| {LABELS[task]} | {b[0]} | {a[0]} | {b[1]} | {a[1]} | {b[2]} | {a[2]} |")
    budget = [f"{name} {r['cdp_bytes_down'] / 1024:.1f} KiB in {r['requests']} requests"
              for name, r in (("before", old.get("first_load")), ("after", new.get("first_load")))
              if r and r.get("possible")]
    if budget:
        lines.append(f"\nConversation screen, first load as the page's CDP counts it (budget 60 KiB, 15 requests): "
                     f"{'; '.join(budget)}.")
    return "\n".join(lines)


def notes(result: dict[str, Any]) -> str:
    out = []
    for r in result["tasks"]:
        if r["possible"]:
            out.append(f"- {LABELS[r['task']]} ({r.get('path')}): {r['note']}; up {_kb(r['bytes_up'])}, "
                       f"down {_kb(r['bytes_down'])}; seconds of the runs {r['seconds_all']}")
        else:
            out.append(f"- {LABELS[r['task']]}: impossible, {r['note']}")
    return "\n".join(out)
