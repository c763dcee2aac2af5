"""Rules of a mailbox linked through Pro Santé Connect: the token endpoint's answer (RFC 6749
§5.1), when to renew, who may link, and the settings that declare such a mailbox."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from chevet.core.errors import Forbidden, InvalidInput
from chevet.core.mssante.psc_link import PscMailbox, check_link, needs_refresh, read_grant
from chevet.settings.mssante import MailboxSettings

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def test_token_answer_per_rfc6749() -> None:
    """RFC 6749 §5.1: access_token and token_type (case-insensitive "Bearer") are required,
    expires_in is recommended (missing: 60 s, the safe reading), refresh_token optional (§6: the
    server may keep the old one). The repr never shows a token."""
    g = read_grant({"access_token": "abc.def", "token_type": "bearer", "expires_in": 300,
                    "refresh_token": "r1", "refresh_expires_in": 1800}, NOW)
    assert g.expires_at == NOW + timedelta(seconds=300) and g.refresh_token == "r1"
    assert g.refresh_expires_at == NOW + timedelta(minutes=30) and "abc" not in repr(g)
    kept = read_grant({"access_token": "abc", "token_type": "Bearer"}, NOW)
    assert kept.refresh_token is None and kept.expires_at == NOW + timedelta(seconds=60)
    for bad in ({}, [], {"access_token": "abc", "token_type": "mac"}, {"access_token": "a b", "token_type": "Bearer"},
                {"access_token": "abc", "token_type": "Bearer", "refresh_token": 7}):
        with pytest.raises(InvalidInput):
            read_grant(bad, NOW)


def test_renewal_a_minute_before_the_end() -> None:
    assert needs_refresh(None, NOW)
    assert not needs_refresh(NOW + timedelta(seconds=61), NOW)
    assert needs_refresh(NOW + timedelta(seconds=60), NOW)


def test_who_may_link() -> None:
    per = PscMailbox("ines.durand@ehpad.test", "ehpad", "PER", owner="ines@ehpad.example")
    org = PscMailbox("accueil@ehpad.test", "ehpad", "ORG")
    check_link(per, org_slug="ehpad", email="Ines@ehpad.example", is_admin=False, rpps="10001234567",
               subject="10001234567")
    check_link(org, org_slug="ehpad", email="admin@ehpad.example", is_admin=True, rpps="10001234567",
               subject="10001234567")
    cases = [(per, "ehpad", "paul@ehpad.example", False, "10001234567", "10001234567", "mss_psc_not_your_mailbox"),
             (per, "ehpad", "ines@ehpad.example", False, "10001234567", "10009999999", "mss_psc_card_mismatch"),
             (per, "ehpad", "ines@ehpad.example", False, None, None, "mss_psc_card_mismatch"),
             (per, "other", "ines@ehpad.example", False, "10001234567", "10001234567", "mss_psc_not_your_mailbox"),
             (org, "ehpad", "ines@ehpad.example", False, "10001234567", "10001234567", "mss_psc_admin_only")]
    for box, slug, email, admin, rpps, subject, code in cases:
        with pytest.raises(Forbidden) as err:
            check_link(box, org_slug=slug, email=email, is_admin=admin, rpps=rpps, subject=subject)
        assert err.value.code == code


def test_settings_of_a_psc_mailbox() -> None:
    base = {"address": "Ines.Durand@ehpad.test", "organisation": "ehpad"}
    ok = MailboxSettings(**base, authentication="psc", kind="PER", owner="ines@ehpad.example",
                         sasl_mechanism="XOAUTH2")
    assert ok.address == "ines.durand@ehpad.test"
    MailboxSettings(**base, authentication="psc", kind="ORG")
    for bad in ({"authentication": "psc", "kind": "APP"}, {"authentication": "psc", "kind": "PER"},
                {"authentication": "psc", "kind": "ORG", "owner": "x@y.z"},
                {"authentication": "psc", "kind": "ORG", "password_file": "/run/secret"},
                {"owner": "x@y.z"}, {"authentication": "psc", "kind": "ORG", "sasl_mechanism": "PLAIN"}):
        with pytest.raises(ValidationError):
            MailboxSettings(**base, **bad)
