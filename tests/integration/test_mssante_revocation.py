"""Signer certificates checked against CRLs from files made by the test CA (standing in for
IGC-Santé): a revoked signer is shown as such, a CRL that its CA did not sign is ignored, a
CRL replaced on disk is taken into account, and without a current CRL the administrator's
choice applies. Nothing is fetched from the network."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta

import pytest

from chevet.adapters.mail import crl as crl_files
from chevet.app.mssante import exchanges, inbound
from chevet.bootstrap import Installation
from chevet.core.mssante import mime
from tests.mss_pki import TestCA, crl
from tests.mss_support import SMIME_CA, configure, unique
from tests.support import new_member, new_org


def _signed(sender: str, to: str, mid: str, issued) -> bytes:  # type: ignore[no-untyped-def]
    env = mime.Envelope(sender=sender, recipients=(to,), subject=mid, message_id=mid, date=datetime.now(UTC),
                        nil="N")
    return mime.assemble(env, mime.build_content(f"Message {mid}", []), issued.identity)


async def test_revoked_signers_are_shown_revoked(installation: Installation, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(crl_files, "CHECK_EVERY", 0.0)
    svc = installation.services
    org = await new_org(svc)
    nurse = await new_member(svc, org, "nurse")
    folder = installation.settings.data_dir / "crl"
    folder.mkdir(parents=True)
    revoked = SMIME_CA.issue("Dr Revoque", email="dr.revoque@gp.test")
    good = SMIME_CA.issue("Dr Bon", email="dr.bon@gp.test")
    later = SMIME_CA.issue("Dr Plus Tard", email="dr.tard@gp.test")
    (folder / "igc.crl").write_bytes(crl(SMIME_CA, [revoked]))
    # The same issuer name, another key: a forged CRL naming the good signer is ignored.
    forger = TestCA("AC TEST IGC-SANTE ORGANISATIONS")
    (folder / "forged.pem").write_bytes(crl(forger, [good]))
    (folder / "ca.pem").write_bytes(SMIME_CA.pem())
    checked = subprocess.run(["openssl", "crl", "-in", str(folder / "igc.crl"), "-CAfile", str(folder / "ca.pem"),
                              "-noout"], capture_output=True, text=True)
    assert checked.returncode == 0 and "verify OK" in (checked.stdout + checked.stderr)
    (folder / "ca.pem").unlink()

    box = unique("sec", "ehpad.test")
    gw = configure(installation.settings, org.slug, [nurse.email], box,
                   extra=f'crl_directory = "{folder}"').runtime.gateway

    async def signature(sender: str, mid: str, issued) -> tuple[str, str | None]:  # type: ignore[no-untyped-def]
        got = await inbound.ingest(svc, gw, box, _signed(sender, box, mid, issued))
        assert got.conversation_id is not None
        last = (await exchanges.exchange_messages(svc, nurse.actor, got.conversation_id))["messages"][-1]["mssante"]
        return last["signature"], last["signature_reason"]

    assert await signature("dr.revoque@gp.test", "r1@gp.test", revoked) == ("revoked", "certificate_revoked")
    assert await signature("dr.bon@gp.test", "g1@gp.test", good) == ("valid", None)
    assert await signature("dr.tard@gp.test", "l1@gp.test", later) == ("valid", None)
    # The CA publishes a new CRL: the file is replaced, the next mail is checked against it.
    (folder / "igc.crl").write_bytes(crl(SMIME_CA, [revoked, later]))
    assert await signature("dr.tard@gp.test", "l2@gp.test", later) == ("revoked", "certificate_revoked")

    # An out-of-date CRL says nothing; the administrator asked for a current one: not trusted.
    stale = installation.settings.data_dir / "stale"
    stale.mkdir()
    (stale / "old.crl").write_bytes(crl(SMIME_CA, [], days=1, last_update=datetime.now(UTC) - timedelta(days=3)))
    box2 = unique("sec2", "ehpad.test")
    strict = configure(installation.settings, org.slug, [nurse.email], box2, name="strict.toml",
                       extra=f'crl_directory = "{stale}"\ncrl_required = true').runtime.gateway
    got = await inbound.ingest(svc, strict, box2, _signed("dr.bon@gp.test", box2, "s1@gp.test", good))
    assert got.conversation_id is not None
    last = (await exchanges.exchange_messages(svc, nurse.actor, got.conversation_id))["messages"][-1]["mssante"]
    assert (last["signature"], last["signature_reason"]) == ("untrusted", "revocation_unknown")
