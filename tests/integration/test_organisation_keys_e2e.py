"""Organisation-held keys, end to end (docs/keys.md, "How it is tested"): one installation, two
establishments, one whose key is on a SoftHSM2 token and one whose key is in the key file.

For both, through the web application: a conversation, messages sent and read back, search, an
attachment, a signalement report with a file. The token is then taken away: only the
establishment on the token is refused (503, in French, with Retry-After), nothing it sent is
lost, the other establishment goes on; the token comes back and service resumes by itself.
Finally every byte of the database (its files, or a dump), the blob store, a database backup
and the key backup (the real ``chevet backup``) is searched: no sentence sent, no file's bytes,
no file name, no unwrapped data key and no organisation key is there."""

from __future__ import annotations

import asyncio
import base64
import os
import subprocess
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import pytest

from chevet.adapters.organisation_key_file import kek_aad
from chevet.app.governance import organisation_key_rotation as rotation
from chevet.bootstrap import Installation, initialise, open_installation
from chevet.ports import SealedItem
from chevet.ports.organisation_keys import CURRENT
from tests.attachment_support import Api
from tests.governance_support import cli
from tests.media_samples import pdf
from tests.signalement_support import Ehpad, ehpad
from tests.softhsm_support import SoftHsmToken
from tests.support import make_settings
from tests.web_client import Browserless

TOKEN_NAME = "ehpad-jonquilles"


@dataclass
class Establishment:
    """One organisation of the installation, what it sent, and what must never be found on disk."""

    staff: Ehpad
    conversation: str = ""
    message_ids: list[str] = field(default_factory=list)
    sentences: list[str] = field(default_factory=list)
    file_names: list[str] = field(default_factory=list)
    file_bytes: list[bytes] = field(default_factory=list)
    report_id: str = ""

    @property
    def org_id(self) -> uuid.UUID:
        return self.staff.org.id


async def _wait(check: object, timeout: float = 30.0) -> bool:
    """Polls ``check`` (an async callable) until it is true: no assertion on how long it took."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        if await check():  # type: ignore[operator]
            return True
        if loop.time() > deadline:
            return False
        await asyncio.sleep(0.2)




def _toml(token: SoftHsmToken) -> str:
    """The installation's settings file declaring the establishment's token, as an administrator
    writes it (docs/keys.md): the CLI commands run as subprocesses read it too."""
    return (f'[organisation_keys]\nunavailable_seconds = 0.2\ntoken_retry_seconds = 0\n\n'
            f'[organisation_keys.tokens.{token.name}]\nmodule = "{token.module}"\nlabel = "{token.label}"\n'
            f'pin_file = "{token.pin_file}"\n')


@pytest.fixture
async def two_establishments(tmp_path: Path, database_url: str | None,
                             softhsm_token: SoftHsmToken) -> AsyncIterator[Installation]:
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    (data / "chevet.toml").write_text(_toml(softhsm_token))
    settings = make_settings(data, database_url)
    await initialise(settings)
    inst = open_installation(settings, with_bus=False)
    try:
        yield inst
    finally:
        await inst.close()


def _env(token: SoftHsmToken) -> dict[str, str]:
    """What a CLI subprocess needs besides its settings file: SoftHSM's configuration."""
    env = {"SOFTHSM2_CONF": token.softhsm.environ["SOFTHSM2_CONF"]}
    if os.environ.get("PYTHONPATH"):
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    return env


# What each establishment writes: distinctive enough that finding it anywhere on disk is a leak.
WORDS = {
    "token": {"title": "Relève Jonquilles Ouest", "sentences": [
        "Mme Philomène Arbogast a glissé près du lavabo, hématome occipital",
        "Surveillance neurologique de Mme Arbogast toutes les deux heures"],
        "file_name": "Bilan-Arbogast-Philomene.pdf", "file_text": "Compte rendu radiologique Arbogast",
        "report": "Chute de Mme Arbogast dans la salle de bain, sol mouillé",
        "report_file": "Constat-chute-Arbogast.txt", "report_text": b"Sol mouille, Mme Arbogast relevee a 6h10\n",
        "search": "arbogast", "after": "Mme Arbogast a bien dormi, pas de vomissement"},
    "file": {"title": "Tournée Peupliers Nord", "sentences": [
        "M. Barnabé Kerhervé refuse son pansement du talon gauche",
        "Pansement de M. Kerhervé refait, escarre stade deux"],
        "file_name": "Ordonnance-Kerherve-Barnabe.pdf", "file_text": "Ordonnance pansement Kerherve",
        "report": "Erreur de pilulier pour M. Kerhervé au passage du soir",
        "report_file": "Pilulier-Kerherve.txt", "report_text": b"Pilulier du mardi inverse pour M. Kerherve\n",
        "search": "kerherve", "after": "M. Kerhervé a accepté le pansement ce soir"},
}


async def _open_establishment(api: Api, e: Establishment, words: dict[str, object]) -> None:
    """Everything a team does in a day, through the web application: a conversation, messages,
    a file, search, a report with a file read by the quality lead."""
    s = e.staff
    for m in (s.nurse, s.carer, s.quality):
        await api.login(m)
    e.conversation = await api.conversation(s.nurse, s.carer, s.quality, title=str(words["title"]))
    e.sentences += [str(words["title"])]
    for sentence in words["sentences"]:  # type: ignore[attr-defined]
        r = await api.send(s.nurse, e.conversation, [], sentence)
        assert r.status_code == 201, r.text
        e.message_ids.append(r.json()["id"])
        e.sentences.append(sentence)
    document = pdf(str(words["file_text"]))
    r = await api.upload(s.carer, e.conversation, document, name=str(words["file_name"]),
                         content_type="application/pdf")
    assert r.status_code == 201, r.text
    attachment = r.json()["id"]
    r = await api.send(s.carer, e.conversation, [attachment], "Bilan joint")
    assert r.status_code == 201, r.text
    e.message_ids.append(r.json()["id"])
    e.file_names.append(str(words["file_name"]))
    e.file_bytes.append(document)
    e.sentences.append(str(words["file_text"]))

    report = orjson.dumps({"mode": "named", "what": words["report"], "place": "Chambre 12",
                           "occurred_at": api.installation.services.clock.now().isoformat()}).decode()
    r = await api.client.post("/api/v1/reports/with-files", headers=api.auth(s.carer), data={"report": report},
                              files=[("file", (str(words["report_file"]), words["report_text"], "text/plain"))])
    assert r.status_code == 201, r.text
    e.report_id = r.json()["id"]
    e.sentences.append(str(words["report"]))
    e.file_names.append(str(words["report_file"]))
    e.file_bytes.append(words["report_text"])  # type: ignore[arg-type]
    await _reads_back(api, e, words)


async def _reads_back(api: Api, e: Establishment, words: dict[str, object]) -> None:
    """Every message, the file, search and the report open for the establishment's people."""
    s = e.staff
    r = await api.client.get(f"/api/v1/conversations/{e.conversation}/messages", headers=api.auth(s.quality))
    assert r.status_code == 200, r.text
    bodies = [m["body"] for m in r.json() if "body" in m]
    for sentence in words["sentences"]:  # type: ignore[attr-defined]
        assert sentence in bodies
    [with_file] = [m for m in r.json() if "body" in m and m.get("attachments")]
    [att] = with_file["attachments"]
    assert att["name"] == words["file_name"]
    got = await api.client.get(f"/api/v1/attachments/{att['id']}", headers=api.auth(s.nurse))
    assert got.status_code == 200 and got.content == e.file_bytes[0]

    found = await api.client.get("/api/v1/search", params={"q": str(words["search"])}, headers=api.auth(s.carer))
    assert found.status_code == 200, found.text
    assert set(e.message_ids[:2]) <= {hit["id"] for hit in found.json()}

    view = await api.client.get(f"/api/v1/reports/{e.report_id}", headers=api.auth(s.quality))
    assert view.status_code == 200, view.text
    assert view.json()["what"] == words["report"]
    [report_file] = view.json()["attachments"]
    got = await api.client.get(f"/api/v1/reports/{e.report_id}/files/{report_file['id']}",
                               headers=api.auth(s.quality))
    assert got.status_code == 200 and got.content == words["report_text"]


@dataclass
class Scene:
    api: Api
    on_token: Establishment
    on_file: Establishment


async def _scene(inst: Installation, token: SoftHsmToken) -> Scene:
    """Two establishments: « EHPAD Les Jonquilles » moved to its token before anything is
    written, « SSIAD Les Peupliers » on the key file (the default, nothing to do)."""
    svc = inst.services
    jonquilles = Establishment(await ehpad(svc, f"jonquilles-{uuid.uuid4().hex[:6]}"))
    peupliers = Establishment(await ehpad(svc, f"peupliers-{uuid.uuid4().hex[:6]}"))
    # The administrator moves « Les Jonquilles » to its token, as docs/keys.md says.
    r = cli(inst, "org", "key", "rotate", jonquilles.staff.org.slug, "--to", f"token:{token.name}", "--grace", "0",
            env=_env(token))
    assert r.returncode == 0, r.stdout + r.stderr
    for e, provider in ((jonquilles, "pkcs11"), (peupliers, "file")):
        await svc.org_keys.refresh(e.org_id)
        current = await svc.org_keys.current(e.org_id)
        assert (current.provider, current.state) == (provider, CURRENT)
    api = Api(inst)
    await _open_establishment(api, jonquilles, WORDS["token"])
    await _open_establishment(api, peupliers, WORDS["file"])
    return Scene(api, jonquilles, peupliers)


async def _wrapped_keys(inst: Installation, e: Establishment) -> list[SealedItem]:
    return [item async for _name, items in rotation.org_items(inst.services, e.org_id) for item in items]


async def test_each_establishment_works_and_a_removed_token_stops_only_its_own(
        two_establishments: Installation, softhsm_token: SoftHsmToken) -> None:
    inst = two_establishments
    svc = inst.services
    s = await _scene(inst, softhsm_token)
    api, jonquilles, peupliers = s.api, s.on_token, s.on_file
    try:
        # Every data key of each establishment is under its own key (0x03 and its version).
        for e in (jonquilles, peupliers):
            current = await svc.org_keys.current(e.org_id)
            items = await _wrapped_keys(inst, e)
            assert {i.column for i in items} >= {"conversation_key.wrapped", "report_key.wrapped"}
            assert {(i.blob[0], svc.org_keys.version_of(i.blob)) for i in items} == {(3, current.version)}
        [token_key] = [k for k in await svc.org_keys.refresh(jonquilles.org_id) if k.state == CURRENT]
        assert token_key.reference == f"{softhsm_token.name}/chevet-org-{jonquilles.org_id}-v{token_key.version}"
        assert token_key.wrapped is None  # nothing of the token's key is in the database

        page = Browserless(app=api.app)
        page.http.cookies.set("chevet_session", api.tokens[jonquilles.staff.nurse.id])  # signed in (one TOTP use)
        before = await _history(api, jonquilles)

        with softhsm_token.removed():
            # What the cache's bounded age does within `cache_seconds`: nothing opened stays.
            svc.org_keys.forget(jonquilles.org_id)
            q, nurse = jonquilles.staff.quality, jonquilles.staff.nurse
            r = await api.client.get(f"/api/v1/conversations/{jonquilles.conversation}/messages",
                                     headers=api.auth(q))
            _assert_keys_unreachable(r)
            r = await api.send(nurse, jonquilles.conversation, [], str(WORDS["token"]["after"]), client_id="after-1")
            _assert_keys_unreachable(r)
            r = await api.client.get(f"/api/v1/reports/{jonquilles.report_id}", headers=api.auth(q))
            _assert_keys_unreachable(r)
            r = await api.client.get("/api/v1/search", params={"q": "arbogast"}, headers=api.auth(q))
            _assert_keys_unreachable(r)
            r = await api.client.get(f"/api/v1/conversations/{jonquilles.conversation}/messages",
                                     headers=api.auth(q, **{"Accept-Language": "en"}))
            assert r.status_code == 503 and "cannot be reached" in r.json()["detail"].lower(), r.text
            r = await page.get(f"/c/{jonquilles.conversation}", headers={"Accept": "text/html"})
            assert r.status_code == 503 and r.headers.get("retry-after"), r.status_code
            assert "clés de votre établissement" in r.text.lower() or "clés de l'établissement" in r.text.lower(), \
                r.text[:2000]

            # The other establishment, on the same process and database, goes on as usual.
            r = await api.send(peupliers.staff.nurse, peupliers.conversation, [], str(WORDS["file"]["after"]))
            assert r.status_code == 201, r.text
            peupliers.message_ids.append(r.json()["id"])
            await _reads_back(api, peupliers, WORDS["file"])

        # The token is back: service resumes by itself (no restart, no forget), nothing was lost
        # and the refused message was not half-stored: it goes now, exactly once.
        async def reads() -> bool:
            got = await api.client.get(f"/api/v1/conversations/{jonquilles.conversation}/messages",
                                       headers=api.auth(jonquilles.staff.quality))
            return got.status_code == 200
        assert await _wait(reads), "the establishment on the token did not come back by itself"
        assert await _history(api, jonquilles) == before
        for _ in range(2):  # the client's outbox sends again with the same client_id
            r = await api.send(jonquilles.staff.nurse, jonquilles.conversation, [], str(WORDS["token"]["after"]),
                               client_id="after-1")
            assert r.status_code == 201, r.text
        after = await _history(api, jonquilles)
        assert after[:-1] == before and after[-1] == WORDS["token"]["after"]
        await _reads_back(api, jonquilles, WORDS["token"])
        r = await page.get(f"/c/{jonquilles.conversation}", headers={"Accept": "text/html"})
        assert r.status_code == 200 and "Arbogast a bien dormi" in r.text
        await page.close()
    finally:
        await api.close()


async def _history(api: Api, e: Establishment) -> list[str]:
    r = await api.client.get(f"/api/v1/conversations/{e.conversation}/messages", headers=api.auth(e.staff.quality))
    assert r.status_code == 200, r.text
    return [m["body"] for m in r.json() if "body" in m]


def _assert_keys_unreachable(r: object) -> None:
    """A 503 with Retry-After and the French problem saying the establishment's keys are out of
    reach, nothing lost, service resuming by itself."""
    import httpx

    assert isinstance(r, httpx.Response)
    assert r.status_code == 503, (r.status_code, r.text)
    assert int(r.headers["retry-after"]) >= 1
    problem = r.json()
    assert problem["code"] == "organisation_keys_unavailable", problem
    detail = problem["detail"].lower()
    assert "clés" in detail and "établissement" in detail, detail


def _forms(needle: bytes) -> list[bytes]:
    """The ways a value can sit in a file: its bytes, hexadecimal (a pg_dump shows bytea so),
    and base64 (the key backup's encoding), cut short of any padding."""
    whole = len(needle) // 3 * 4  # the base64 characters that do not depend on what follows
    return [needle, needle.hex().encode(), base64.b64encode(needle)[:whole],
            base64.urlsafe_b64encode(needle)[:whole]]


def _leaks(haystacks: dict[str, bytes], needles: dict[str, bytes]) -> list[str]:
    found = []
    for what, needle in needles.items():
        forms = _forms(needle)
        for where, data in haystacks.items():
            if any(form in data for form in forms):
                found.append(f"{what} in {where}")
    return found


def _files_under(root: Path, label: str) -> dict[str, bytes]:
    return {f"{label}/{p.relative_to(root)}": p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


async def test_no_plaintext_and_no_key_in_the_database_the_blobs_or_the_backups(
        two_establishments: Installation, softhsm_token: SoftHsmToken, tmp_path: Path) -> None:
    inst = two_establishments
    svc = inst.services
    s = await _scene(inst, softhsm_token)
    await s.api.close()

    # The real backup command, as an operator runs it (a subprocess reading chevet.toml).
    out, key_backup = tmp_path / "backups", tmp_path / "keys" / "chevet-keys.json"
    r = cli(inst, "backup", "--out", str(out), "--keys-out", str(key_backup), env=_env(softhsm_token))
    assert r.returncode == 0, r.stderr
    [db_backup] = list(out.glob("chevet-db-*"))

    # What must never be found: what people wrote and sent, and every key that opens it.
    needles: dict[str, bytes] = {}
    for e in (s.on_token, s.on_file):
        for text in e.sentences + e.file_names:
            needles[f"text {text!r}"] = text.encode()
        for i, data in enumerate(e.file_bytes):
            needles[f"file {i} of {e.staff.org.slug}"] = data
        items = await _wrapped_keys(inst, e)
        assert {i.column for i in items} >= {"conversation_key.wrapped", "report_key.wrapped", "person.address_key"}
        for item in items:
            material = await svc.org_keys.unwrap(e.org_id, item.blob, item.aad)
            assert len(material) == 32
            needles[f"data key {item.column} {item.key}"] = material
    for word in ("Arbogast", "Philom", "Kerherv", "Barnab", "pilulier", "lavabo"):
        needles[f"word {word}"] = word.encode()
    [kek_row] = [k for k in await svc.org_keys.refresh(s.on_file.org_id) if k.state == CURRENT]
    assert kek_row.provider == "file" and kek_row.wrapped is not None
    needles["the file establishment's key"] = svc.keys.unwrap(kek_row.wrapped,
                                                              kek_aad(s.on_file.org_id, kek_row.version))

    await inst.close()  # everything written, the WAL checkpointed (SQLite)
    haystacks: dict[str, bytes] = {}
    if inst.settings.database.url is None:
        haystacks |= _files_under(inst.settings.data_dir, "data directory")  # database, WAL, blobs, logs
        assert any(name.endswith(".sqlite") or name.endswith(".db") for name in haystacks), list(haystacks)
    else:
        live = subprocess.run(["pg_dump", inst.settings.database.url], capture_output=True, check=True).stdout
        assert b"COPY public.conversation_key" in live and b"COPY public.organisation_key" in live
        haystacks["pg_dump of the database"] = live
        haystacks |= _files_under(inst.settings.blobs_path, "blob store")
        restored = subprocess.run(["pg_restore", "--file=-", str(db_backup)], capture_output=True, check=True).stdout
        assert b"COPY public.entry" in restored
        haystacks["database backup (pg_restore)"] = restored
    assert any("blob" in name for name in haystacks) or inst.settings.database.url is None
    haystacks |= _files_under(out, "backup folder")  # the database backup and its blobs
    haystacks["key backup"] = key_backup.read_bytes()
    haystacks |= _files_under(softhsm_token.softhsm.token_dir, "SoftHSM token files")

    assert _leaks(haystacks, needles) == []
    # The file establishment's key, even wrapped, is in no database backup: only in the key backup
    # (replaced, never accumulated), so that shredding it reaches every database backup.
    wrapped_kek = {"wrapped organisation key": kek_row.wrapped}
    backups = {k: v for k, v in haystacks.items() if k.startswith(("backup folder", "database backup"))}
    assert _leaks(backups, wrapped_kek) == []
    assert _leaks({"key backup": haystacks["key backup"]}, wrapped_kek) == ["wrapped organisation key in key backup"]
    # The test can fail: the same search finds each needle where it is known to be.
    assert _leaks({"probe": b"..." + needles["the file establishment's key"].hex().encode()},
                  {"the file establishment's key": needles["the file establishment's key"]})
