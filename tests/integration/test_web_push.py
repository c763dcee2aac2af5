"""Web Push end to end on a real server. The push service is stood in for by a loopback HTTP
receiver (no real push service is reachable from the tests); the test plays the browser: it
makes the subscription keys, decrypts what arrives (RFC 8291) and checks the VAPID signature.
What an auditor cares about: no care content ever leaves, grouping keeps the count low,
quiet hours hold, and the server contacts only the push services the administrator listed."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from chevet.app.messaging import conversations
from chevet.bootstrap import Installation
from chevet.core.notification import format_clock, local_day
from tests.push_support import Device, Receiver, b64, check_vapid
from tests.support import Server, login, new_member, new_org
from tests.web_client import Browserless

SECRET = "Mme Quatrefages chute, hématome frontal"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


async def _wait_for(receiver: Receiver, count: int, timeout: float = 10) -> None:
    for _ in range(int(timeout * 20)):
        if len(receiver.received) >= count:
            return
        await asyncio.sleep(0.05)


async def test_push_says_nothing_of_care_groups_and_respects_quiet_hours(installation: Installation,
                                                                         receiver: Receiver) -> None:
    svc = installation.services
    org = await new_org(svc, "ehpad-push")
    nurse = await new_member(svc, org, "nurse", "Sophie Bernard")
    doctor = await new_member(svc, org, "physician", "Paul Lefèvre")
    care, _ = await conversations.create_conversation(svc, nurse.actor, kind="care_case", title="Mme Quatrefages",
                                                      member_ids=[doctor.id], care_case_ref="CH12")
    group, _ = await conversations.create_conversation(svc, nurse.actor, kind="group", title="Unité Alzheimer",
                                                       member_ids=[doctor.id])
    server = Server(installation.settings, env={"CHEVET_PUSH_SERVICES": receiver.origin})
    doc = Browserless(server.url)
    try:
        await doc.sign_in(doctor)
        account = (await doc.get("/account")).text
        public_key = account.split('data-push-key="')[1].split('"')[0]
        assert public_key
        device = Device(f"{receiver.origin}/push/{uuid.uuid4().hex}")
        elsewhere = await doc.post("/account/push", {"endpoint": "https://push.example.net/abc",
                                                     "p256dh": b64(device.public),
                                                     "auth": b64(device.auth)}, from_page="/account")
        assert elsewhere.status_code == 422  # a push service the administrator did not list
        ok = await doc.post("/account/push", {"endpoint": device.endpoint, "p256dh": b64(device.public),
                                              "auth": b64(device.auth)}, from_page="/account")
        assert ok.status_code == 200 and ok.json() == {"devices": 1}

        token = login(server.url, nurse)
        auth = {"Authorization": f"Bearer {token}"}

        def send(conv: dict[str, Any], body: str, cid: str, urgent: bool = False) -> None:
            r = httpx.post(f"{server.url}/api/v1/conversations/{conv['id']}/messages", headers=auth,
                           json={"body": body, "client_id": cid, "urgent": urgent})
            assert r.status_code == 201

        send(care, SECRET, "c1")  # her patient's care case: at once
        await _wait_for(receiver, 1)
        send(group, "Réunion à 14h", "g1")  # a busy group: the first one, then grouped
        await _wait_for(receiver, 2)
        send(group, "Salle 2", "g2")
        await asyncio.sleep(1.5)
        assert len(receiver.received) == 2
        send(care, "Glycémie 1,2 g/L", "c2")  # the care case does not wait for the group's window
        await _wait_for(receiver, 3)
        send(care, "Saturation 88 %", "c3", urgent=True)
        await _wait_for(receiver, 4)
        assert len(receiver.received) == 4

        pushes = [device.decrypt(body) for _, _, body in receiver.received]
        assert [p["body"] for p in pushes] == ["Nouveau message", "Nouveau message dans Unité Alzheimer",
                                               "Nouveau message", "Message urgent"]
        assert [p["url"] for p in pushes] == [f"/c/{care['id']}", f"/c/{group['id']}"] + [f"/c/{care['id']}"] * 2
        for p in pushes:  # "Répondre" is offered, for this person only; no care content
            assert set(p) == {"title", "body", "tag", "url", "urgent", "reply", "placeholder", "for"}
            assert (p["reply"], p["placeholder"], p["for"]) == ("Répondre", "Votre réponse", str(doctor.id))
            for secret in ("Quatrefages", "CH12", "Glycémie", "Saturation", "Réunion", "Sophie"):
                assert secret not in json.dumps(p, ensure_ascii=False)
        for path, headers, body in receiver.received:
            assert path.startswith("/push/") and headers["content-encoding"] == "aes128gcm"
            assert int(headers["ttl"]) > 0
            check_vapid(headers, public_key, receiver.origin)
            assert b"Quatrefages" not in body and "Quatrefages" not in json.dumps(headers)
        assert receiver.received[3][1]["urgency"] == "high"

        # Quiet hours covering now: even an urgent message stays silent.
        now = svc.clock.now()
        from chevet.core.notification import LOCAL_TIME

        local = now.astimezone(LOCAL_TIME)
        start = (local.hour * 60 + local.minute - 5) % 1440
        assert (await doc.post("/account/notifications", {"level": "grouped", "quiet_start": format_clock(start),
                                                   "quiet_end": format_clock((start + 60) % 1440)},
                        from_page="/account")).status_code == 303
        send(care, "Saturation 85 %", "c4", urgent=True)
        await asyncio.sleep(1.5)
        assert len(receiver.received) == 4

        # A push service saying the subscription is gone makes the server forget it.
        assert (await doc.post("/account/notifications", {"level": "urgent", "quiet_start": "", "quiet_end": ""},
                        from_page="/account")).status_code == 303
        receiver.answer = 410
        send(group, "Urgent : appel famille", "g3", urgent=True)
        await _wait_for(receiver, 5)
        assert device.decrypt(receiver.received[4][2])["body"] == "Message urgent dans Unité Alzheimer"
        await asyncio.sleep(0.5)
        assert "Appareils recevant les notifications : 0" in (await doc.get("/account")).text
        async with svc.db.transaction() as tx:
            budget = await tx.push.budget(doctor.id)
        assert budget is not None and budget.day == local_day(now)
    finally:
        await doc.close()
        server.stop()


async def test_init_creates_the_vapid_key_once_and_private(installation: Installation) -> None:
    from chevet.bootstrap import initialise

    path = installation.settings.vapid_key_file
    assert path.stat().st_mode & 0o777 == 0o600
    before = path.read_bytes()
    await initialise(installation.settings)
    assert path.read_bytes() == before  # never replaced: subscriptions stay valid


async def test_a_deactivated_person_is_no_longer_notified(installation: Installation) -> None:
    from chevet.app.identity import people as people_actions
    from chevet.app.messaging import messages, notifications
    from chevet.core.entities import RealtimeEvent

    svc = installation.services
    org = await new_org(svc, "ehpad-gone")
    admin = await new_member(svc, org, "admin")
    nurse = await new_member(svc, org, "nurse")
    leaver = await new_member(svc, org, "care_assistant")
    conv, _ = await conversations.create_conversation(svc, nurse.actor, kind="group", title="Nuit",
                                                      member_ids=[leaver.id])
    device = Device("https://push.example.org/sub/1")
    await notifications.subscribe(svc, leaver.actor, endpoint=device.endpoint, p256dh=b64(device.public),
                                  auth=b64(device.auth), allowed_origins=("https://push.example.org",))

    async def planned(client_id: str) -> int:
        sent, _ = await messages.send_message(svc, nurse.actor, uuid.UUID(conv["id"]), body="Relève",
                                              client_id=client_id, urgent=True)
        event = RealtimeEvent(org.id, uuid.UUID(conv["id"]), sent["seq"], {"type": "message", "message": sent})
        return len(await notifications.plan(svc, event))

    assert await planned("a") == 1
    await people_actions.deactivate(svc, admin.actor, leaver.id)
    assert await planned("b") == 0


async def test_a_missed_report_deadline_reaches_the_quality_lead_without_content(installation: Installation,
                                                                                receiver: Receiver) -> None:
    from datetime import timedelta

    from chevet.app.messaging import notifications
    from chevet.app.signalement import filing, handling
    from tests.signalement_support import ehpad, fall

    svc = installation.services
    e = await ehpad(svc, "ehpad-echeance")
    lead_device = Device(f"{receiver.origin}/push/{uuid.uuid4().hex}")
    carer_device = Device(f"{receiver.origin}/push/{uuid.uuid4().hex}")
    for member, device in ((e.quality, lead_device), (e.carer, carer_device)):
        await notifications.subscribe(svc, member.actor, endpoint=device.endpoint, p256dh=b64(device.public),
                                      auth=b64(device.auth), allowed_origins=(receiver.origin,))
    now = svc.clock.now()
    filed = await filing.file_report(svc, e.carer.actor, mode="named", **fall(now))
    await handling.qualify(svc, e.quality.actor, filed.report_id, severity="critical", gdpr_breach=True,
                          awareness_at=now - timedelta(hours=80))
    # The server reminds of deadlines as soon as it starts (then every few minutes).
    server = Server(installation.settings, env={"CHEVET_PUSH_SERVICES": receiver.origin})
    try:
        await _wait_for(receiver, 1)
        await asyncio.sleep(1.5)
        assert len(receiver.received) == 1, "only the quality lead: the reporter handles no deadline"
        path, headers, body = receiver.received[0]
        assert lead_device.endpoint.endswith(path)
        push = lead_device.decrypt(body)
        assert push["body"] == "Échéance de signalement dépassée" and push["url"] == "/signalement/echeances"
        assert set(push) == {"title", "body", "tag", "url", "urgent"}
        for secret in ("Chute", "hématome", "Chambre 12", "CH12", e.carer.actor.person.name):
            assert secret not in json.dumps(push, ensure_ascii=False)
        assert installation.push is not None
        check_vapid(headers, installation.push.public_key, receiver.origin)
    finally:
        server.stop()


async def test_a_fresh_installation_offers_push_and_the_administrator_can_restrict_or_disable_it(
        installation: Installation) -> None:
    svc = installation.services
    org = await new_org(svc, "ehpad-push-admin")
    nurse = await new_member(svc, org, "nurse", "Sophie Bernard")
    carer = await new_member(svc, org, "care_assistant")  # a second sign-in: a TOTP code serves once
    device = Device("https://fcm.googleapis.com/fcm/send/abc")
    keys = {"p256dh": b64(device.public), "auth": b64(device.auth)}
    fresh = Server(installation.settings)  # no push setting at all: the major browsers' services
    doc = Browserless(fresh.url)
    try:
        await doc.sign_in(nurse)
        account = (await doc.get("/account")).text
        assert account.split('data-push-key="')[1].split('"')[0] and 'data-push="on"' in account
        ok = await doc.post("/account/push", {"endpoint": device.endpoint, **keys}, from_page="/account")
        assert ok.status_code == 200 and ok.json() == {"devices": 1}
        refused = await doc.post("/account/push", {"endpoint": "https://push.example.net/abc", **keys},
                                 from_page="/account")
        assert refused.status_code == 422 and refused.json()["code"] == "push_service_not_allowed"
        assert refused.json()["detail"].startswith("Ce service de notification")
    finally:
        await doc.close()
        fresh.stop()
    off = Server(installation.settings, env={"CHEVET_PUSH_SERVICES": "none"})
    doc = Browserless(off.url)
    try:
        await doc.sign_in(carer)
        account = (await doc.get("/account")).text
        assert 'data-push-key=""' in account and 'data-push="on"' not in account
        assert "ne sont pas activées par l&#39;administrateur" in account
        refused = await doc.post("/account/push", {"endpoint": "https://fcm.googleapis.com/fcm/send/def", **keys},
                                 from_page="/account")
        assert refused.status_code == 422 and refused.json()["code"] == "push_service_not_allowed"
    finally:
        await doc.close()
        off.stop()


async def test_the_processing_register_names_the_push_services_and_what_they_learn(
        installation: Installation) -> None:
    from dataclasses import replace

    from chevet.app.governance import gdpr

    svc = installation.services
    org = await new_org(svc, "ehpad-register")
    dpo = await new_member(svc, org, "dpo")
    reg = await gdpr.processing_register(svc, dpo.actor, org)  # the default: the major browsers' services
    assert any("fcm.googleapis.com" in r and "RFC 8291" in r and "taille fixe" in r and "sans contenu de soin" in r
               for r in reg["recipients"])
    transfers = reg["transfers_outside_eu"]  # what the service does learn (padding: not the length)
    assert "ne peut pas le lire" in transfers and "si elle est urgente" in transfers
    assert "push.services = none" in transfers
    off = replace(svc, governance=replace(svc.governance, push_services=()))
    reg = await gdpr.processing_register(off, dpo.actor, org)
    assert reg["transfers_outside_eu"] == "Aucun" and not any("notification" in r for r in reg["recipients"])
