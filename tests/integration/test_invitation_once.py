"""An invitation link is single-use from its first acceptance: choosing a password twice (one
after the other, or two requests racing) never leaves two candidate accounts behind. The first
acceptance keeps the invitation; any other gets a clear refusal and changes nothing."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from chevet.app.identity import auth, people
from chevet.bootstrap import Installation
from chevet.core import totp
from chevet.core.errors import AuthenticationFailed, Conflict, NotFound
from tests.support import Server, new_member, new_org

RACERS = 8


async def _invited(installation: Installation) -> tuple[people.NewInvitation, str]:
    svc = installation.services
    org = await new_org(svc)
    admin = await new_member(svc, org, "admin")
    invited = await people.invite_person(svc, org, admin.actor, email=f"aide@{org.slug}.example",
                                         name="Aide de nuit", role="care_assistant")
    return invited, invited.person.email


async def test_a_second_acceptance_is_refused_and_changes_nothing(installation: Installation) -> None:
    svc = installation.services
    invited, email = await _invited(installation)
    first = await people.accept_invitation(svc, invited.token, "premiere-phrase-de-passe")
    with pytest.raises(Conflict) as refused:
        await people.accept_invitation(svc, invited.token, "seconde-phrase-de-passe")
    assert refused.value.code == "invitation_already_accepted"
    # The first enrolment still holds: its code confirms the account, with its password.
    step = totp.step_of(svc.clock.now().timestamp())
    await people.confirm_invitation(svc, invited.token, totp.code_at(first.totp_secret, step))
    signed = await auth.login(svc, email, "premiere-phrase-de-passe", totp.code_at(first.totp_secret, step + 1))
    assert signed.person.id == invited.person.id
    with pytest.raises(AuthenticationFailed):
        await auth.login(svc, email, "seconde-phrase-de-passe", totp.code_at(first.totp_secret, step + 2))
    with pytest.raises(NotFound):  # used up
        await people.confirm_invitation(svc, invited.token, totp.code_at(first.totp_secret, step + 2))


async def test_racing_acceptances_in_process_leave_one_enrolment(installation: Installation) -> None:
    svc = installation.services
    invited, _ = await _invited(installation)
    results = await asyncio.gather(*(people.accept_invitation(svc, invited.token, f"phrase-de-passe-{i:02d}")
                                     for i in range(RACERS)), return_exceptions=True)
    won = [r for r in results if isinstance(r, people.Enrolment)]
    lost = [r for r in results if not isinstance(r, people.Enrolment)]
    assert len(won) == 1, results
    assert all(isinstance(r, Conflict) and r.code == "invitation_already_accepted" for r in lost), lost
    step = totp.step_of(svc.clock.now().timestamp())
    await people.confirm_invitation(svc, invited.token, totp.code_at(won[0].totp_secret, step))


async def test_racing_acceptances_over_http_leave_one_account(installation: Installation, server: Server) -> None:
    invited, email = await _invited(installation)
    accept = f"{server.url}/api/v1/invitations/{invited.token}/accept"
    async with httpx.AsyncClient(timeout=30) as client:
        answers = await asyncio.gather(*(client.post(accept, json={"password": f"phrase-de-passe-{i:02d}"})
                                         for i in range(RACERS)))
    won = [(i, r) for i, r in enumerate(answers) if r.status_code == 200]
    lost = [r for r in answers if r.status_code != 200]
    assert len(won) == 1, [(r.status_code, r.text) for r in answers]
    for r in lost:
        assert r.status_code == 409 and r.headers["content-type"] == "application/problem+json", r.text
        problem = r.json()
        assert problem["code"] == "invitation_already_accepted"
        assert problem["detail"].startswith("Cette invitation a déjà été acceptée")
    en = httpx.post(accept, json={"password": "phrase-de-passe-en"}, headers={"Accept-Language": "en"})
    assert en.status_code == 409 and en.json()["detail"].startswith("This invitation has already been accepted")

    index, winner = won[0]
    secret = winner.json()["totp_secret"]
    step = totp.step_of(time.time())
    confirmed = httpx.post(f"{server.url}/api/v1/invitations/{invited.token}/confirm",
                           json={"otp": totp.code_at(secret, step)})
    assert confirmed.status_code == 200 and confirmed.json()["status"] == "active", confirmed.text
    signed = httpx.post(f"{server.url}/api/v1/auth/login", json={
        "email": email, "password": f"phrase-de-passe-{index:02d}", "otp": totp.code_at(secret, step + 1)})
    assert signed.status_code == 200, signed.text
    other = (index + 1) % RACERS
    refused = httpx.post(f"{server.url}/api/v1/auth/login", json={
        "email": email, "password": f"phrase-de-passe-{other:02d}", "otp": totp.code_at(secret, step + 2)})
    assert refused.status_code == 401
    svc = installation.services
    async with svc.db.transaction() as tx:
        entries = await tx.audit.query(invited.person.org_id, limit=50)
    assert sum(e.action == "invitation.accepted" for e in entries) == 1
    assert sum(e.action == "person.activated" for e in entries) == 1
