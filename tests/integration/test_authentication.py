"""Signing in: two factors, lockout, replay, invitations, sessions; each step audited."""

from __future__ import annotations

import uuid

import pytest

from chevet.app.identity import auth, people
from chevet.bootstrap import Installation
from chevet.core import totp
from chevet.core.errors import AuthenticationFailed, InvalidInput, LockedOut, NotFound
from tests.support import new_member, new_org


async def test_password_alone_never_signs_in(installation: Installation) -> None:
    svc = installation.services
    org = await new_org(svc)
    nurse = await new_member(svc, org, "nurse")
    for otp in ("", "000000", "abcdef"):
        with pytest.raises(AuthenticationFailed):
            await auth.login(svc, nurse.email, nurse.password, otp)
    with pytest.raises(AuthenticationFailed):
        await auth.login(svc, "nobody@nowhere.example", "whatever-password", nurse.otp())
    signed = await auth.login(svc, nurse.email.upper(), nurse.password, nurse.otp(), ip="192.0.2.7")
    assert signed.person.id == nurse.id and signed.session.method == "password+totp"
    # the same code cannot be used twice
    with pytest.raises(AuthenticationFailed):
        await auth.login(svc, nurse.email, nurse.password, nurse.otp())


async def test_lockout_after_repeated_failures(installation: Installation) -> None:
    svc = installation.services
    org = await new_org(svc)
    nurse = await new_member(svc, org, "nurse")
    threshold = svc.policy.lockout_threshold
    for _ in range(threshold - 1):
        with pytest.raises(AuthenticationFailed):
            await auth.login(svc, nurse.email, "wrong-password", nurse.otp())
    with pytest.raises(LockedOut) as locked:
        await auth.login(svc, nurse.email, "wrong-password", nurse.otp())
    assert locked.value.retry_after > 0
    # even the right credentials are refused while locked
    with pytest.raises(LockedOut):
        await auth.login(svc, nurse.email, nurse.password, nurse.otp())
    async with svc.db.transaction() as tx:
        actions = [e.action for e in await tx.audit.query(org.id, actor_id=nurse.id, limit=50)]
    assert actions.count("auth.login_failed") == threshold
    assert "auth.locked" in actions and "auth.login_refused" in actions


async def test_invitation_sets_password_and_totp_once(installation: Installation) -> None:
    svc = installation.services
    org = await new_org(svc)
    admin = await new_member(svc, org, "admin")
    nurse = await new_member(svc, org, "nurse")
    with pytest.raises(Exception) as refused:
        await people.invite_person(svc, org, nurse.actor, email="x@y.example", name="X", role="nurse")
    assert refused.value.code == "forbidden"
    invited = await people.invite_person(svc, org, admin.actor, email="Julie.Petit@Tilleuls.example",
                                         name="Julie Petit", role="care_assistant")
    assert invited.person.email == "julie.petit@tilleuls.example"
    with pytest.raises(AuthenticationFailed):  # not active yet
        await auth.login(svc, invited.person.email, "x" * 12, "000000")
    with pytest.raises(InvalidInput):
        await people.accept_invitation(svc, invited.token, "short")
    enrolment = await people.accept_invitation(svc, invited.token, "une-phrase-de-passe")
    assert enrolment.otpauth_uri.startswith("otpauth://totp/")
    with pytest.raises(InvalidInput):
        await people.confirm_invitation(svc, invited.token, "000000")
    step = totp.step_of(svc.clock.now().timestamp())
    await people.confirm_invitation(svc, invited.token, totp.code_at(enrolment.totp_secret, step))
    with pytest.raises(NotFound):  # one-time link
        await people.accept_invitation(svc, invited.token, "une-autre-phrase")
    with pytest.raises(NotFound):
        await people.invitation_person(svc, "forged-token")
    signed = await auth.login(svc, invited.person.email, "une-phrase-de-passe",
                              totp.code_at(enrolment.totp_secret, step + 1))
    assert signed.person.role.value == "care_assistant"


async def test_sessions_can_be_listed_and_revoked(installation: Installation) -> None:
    svc = installation.services
    org = await new_org(svc)
    nurse = await new_member(svc, org, "nurse")
    other = await new_member(svc, org, "nurse")
    phone = await auth.login(svc, nurse.email, nurse.password, nurse.otp(-1), user_agent="Android")
    desk = await auth.login(svc, nurse.email, nurse.password, nurse.otp(0), user_agent="Firefox")
    actor = await auth.authenticate(svc, desk.token)
    assert {s.user_agent for s in await auth.sessions(svc, actor)} == {"Android", "Firefox"}
    other_actor = await auth.authenticate(svc, (await auth.login(svc, other.email, other.password, other.otp())).token)
    with pytest.raises(NotFound):  # nobody revokes another person's session
        await auth.revoke_session(svc, other_actor, phone.session.id)
    await auth.revoke_session(svc, actor, phone.session.id)
    with pytest.raises(AuthenticationFailed):
        await auth.authenticate(svc, phone.token)
    await auth.logout(svc, actor)
    with pytest.raises(AuthenticationFailed):
        await auth.authenticate(svc, desk.token)
    with pytest.raises(AuthenticationFailed):
        await auth.authenticate(svc, "")
    with pytest.raises(NotFound):
        await auth.revoke_session(svc, other_actor, uuid.uuid4())


async def test_deactivated_people_lose_their_sessions(installation: Installation) -> None:
    svc = installation.services
    org = await new_org(svc)
    admin, nurse = await new_member(svc, org, "admin"), await new_member(svc, org, "nurse")
    signed = await auth.login(svc, nurse.email, nurse.password, nurse.otp())
    await people.deactivate(svc, admin.actor, nurse.id)
    with pytest.raises(AuthenticationFailed):
        await auth.authenticate(svc, signed.token)
    with pytest.raises(AuthenticationFailed):
        await auth.login(svc, nurse.email, nurse.password, nurse.otp(1))


async def test_reenrolment_replaces_every_credential(installation: Installation) -> None:
    """After an import (no credentials travel in archives) or a lost phone, an administrator
    issues a new enrolment link; everything the person had stops working at once."""
    svc = installation.services
    org = await new_org(svc)
    admin, nurse = await new_member(svc, org, "admin"), await new_member(svc, org, "nurse")
    other_org = await new_org(svc)
    outsider = await new_member(svc, other_org, "admin")
    signed = await auth.login(svc, nurse.email, nurse.password, nurse.otp())
    with pytest.raises(NotFound):  # another organisation's administrator cannot reach her
        await people.reissue_enrolment(svc, other_org, outsider.actor, nurse.email)
    with pytest.raises(Exception) as refused:
        await people.reissue_enrolment(svc, org, nurse.actor, admin.email)
    assert refused.value.code == "forbidden"
    issued = await people.reissue_enrolment(svc, org, admin.actor, nurse.email)
    with pytest.raises(AuthenticationFailed):
        await auth.authenticate(svc, signed.token)
    with pytest.raises(AuthenticationFailed):
        await auth.login(svc, nurse.email, nurse.password, nurse.otp(1))
    enrolment = await people.accept_invitation(svc, issued.token, "nouvelle-phrase-de-passe")
    step = totp.step_of(svc.clock.now().timestamp())
    await people.confirm_invitation(svc, issued.token, totp.code_at(enrolment.totp_secret, step))
    again = await auth.login(svc, nurse.email, "nouvelle-phrase-de-passe",
                             totp.code_at(enrolment.totp_secret, step + 1))
    assert again.person.id == nurse.id
