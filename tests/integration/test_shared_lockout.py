"""The sign-in lock-out held in the database, with SQLite and PostgreSQL: a source's failures
spread over two real server processes add up and still hold for a third process (nothing
forgotten on a restart); and the passkey sign-in follows the same rules as the password one
(per source, the owner's known device spared the account's lock), with real WebAuthn
assertions signed by a software authenticator."""

from __future__ import annotations

import base64
import hashlib
import json
import struct
from datetime import timedelta
from typing import Any

import cbor2
import httpx
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from chevet.app.identity import auth, passkeys
from chevet.bootstrap import Installation
from chevet.core.errors import AuthenticationFailed, LockedOut
from chevet.core.identity import Passkey
from chevet.core.ids import new_id, parse_id
from tests.support import Member, Server, new_member, new_org


def _login(server: Server, member: Member, password: str, otp: str) -> int:
    return httpx.post(f"{server.url}/api/v1/auth/login",
                      json={"email": member.email, "password": password, "otp": otp}, timeout=30).status_code


async def test_failures_from_one_source_add_up_across_server_processes_and_outlive_them(
        installation: Installation) -> None:
    svc = installation.services
    org = await new_org(svc, "ehpad-two-servers")
    nurse = await new_member(svc, org, "nurse")
    first, second = Server(installation.settings), Server(installation.settings)
    try:
        # Five failures from one address, alternating between the two processes: the fifth locks.
        answers = [_login(server, nurse, f"mauvais-{i}", "000000")
                   for i, server in enumerate([first, second, first, second, first])]
        assert answers == [401, 401, 401, 401, 429]
        # Refused by the other process too, even with the right factors.
        assert _login(second, nurse, nurse.password, nurse.otp()) == 429
    finally:
        first.stop()
        second.stop()
    # Both processes are gone; a third one still refuses this source, not the others.
    with pytest.raises(LockedOut):
        await auth.login(svc, nurse.email, nurse.password, nurse.otp(), ip="127.0.0.1")
    signed = await auth.login(svc, nurse.email, nurse.password, nurse.otp(), ip="192.0.2.44")
    assert signed.person.id == nurse.id


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Authenticator:
    """A software passkey: an ECDSA P-256 key whose public half is registered for a person."""

    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.credential_id = new_id().bytes
        self.count = 0

    def cose(self) -> bytes:
        numbers = self.key.public_key().public_numbers()
        return cbor2.dumps({1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32, "big"), -3: numbers.y.to_bytes(32, "big")})

    def answer(self, installation: Installation, challenge: str, *, forged: bool = False) -> dict[str, Any]:
        rp = passkeys.relying_party(installation.services)
        self.count += 1
        data = hashlib.sha256(rp.id.encode()).digest() + bytes([0x05]) + struct.pack(">I", self.count)
        client = json.dumps({"type": "webauthn.get", "challenge": challenge, "origin": rp.origin}).encode()
        signer = ec.generate_private_key(ec.SECP256R1()) if forged else self.key
        signature = signer.sign(data + hashlib.sha256(client).digest(), ec.ECDSA(hashes.SHA256()))
        return {"id": _b64(self.credential_id), "rawId": _b64(self.credential_id), "type": "public-key",
                "response": {"authenticatorData": _b64(data), "clientDataJSON": _b64(client),
                             "signature": _b64(signature)}}


async def _with_passkey(installation: Installation, member: Member) -> Authenticator:
    device = Authenticator()
    async with installation.services.db.transaction() as tx:
        await tx.passkeys.add(Passkey(id=new_id(), org_id=member.actor.org_id, person_id=member.id,
                                      credential_id=device.credential_id, public_key=device.cose(), sign_count=0,
                                      name="Téléphone", transports="internal",
                                      created_at=installation.services.clock.now(), last_used_at=None,
                                      revoked_at=None))
    return device


async def _passkey_login(installation: Installation, device: Authenticator, *, ip: str, forged: bool = False,
                         cookie: str | None = None) -> auth.SignedIn:
    begun = await passkeys.begin_login(installation.services)
    answer = device.answer(installation, str(begun["options"]["challenge"]), forged=forged)
    return await passkeys.finish_login(installation.services, parse_id(begun["challenge_id"]), answer, ip=ip,
                                       device=cookie)


async def test_passkey_sign_in_follows_the_same_lock_out_rules(installation: Installation) -> None:
    svc = installation.services
    org = await new_org(svc, "ehpad-passkey-lockout")
    nurse = await new_member(svc, org, "nurse")
    device = await _with_passkey(installation, nurse)
    signed = await _passkey_login(installation, device, ip="192.0.2.10")  # a real assertion opens a session
    assert signed.person.id == nurse.id and signed.session.method == "passkey"
    cookie = auth.remember_device(svc, None, nurse.id)
    outcomes = []
    for _ in range(6):  # forged answers from one address: counted like wrong passwords
        try:
            await _passkey_login(installation, device, ip="198.51.100.7", forged=True)
        except LockedOut:
            outcomes.append("locked")
        except AuthenticationFailed:
            outcomes.append("failed")
    assert outcomes == ["failed"] * 4 + ["locked"] * 2
    with pytest.raises(LockedOut):  # that address, even with the true passkey
        await _passkey_login(installation, device, ip="198.51.100.7")
    with pytest.raises(LockedOut):  # and the password sign-in from there: one count for both
        await auth.login(svc, nurse.email, nurse.password, nurse.otp(), ip="198.51.100.7")
    # Her known device, on that same address, is another source.
    assert (await _passkey_login(installation, device, ip="198.51.100.7", cookie=cookie)).person.id == nurse.id
    # Many sources lock the account: unknown devices are refused the passkey too, not her phone.
    policy = svc.policy.lockout
    for n in range(policy.account_threshold):
        with pytest.raises((AuthenticationFailed, LockedOut)):
            await auth.login(svc, nurse.email, "mauvais", "000000", ip=f"203.0.113.{n % 50}")
    with pytest.raises(LockedOut):
        await _passkey_login(installation, device, ip="192.0.2.99")
    assert (await _passkey_login(installation, device, ip="192.0.2.99", cookie=cookie)).person.id == nurse.id
    async with svc.db.transaction() as tx:
        creds = await tx.people.credentials(nurse.id)
    assert creds.locked_until is not None and creds.locked_until > svc.clock.now() + timedelta(minutes=1)
