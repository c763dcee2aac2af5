"""SASL initial responses for a mailbox login with a Pro Santé Connect access token, checked
against the specifications' own examples."""

from __future__ import annotations

import base64

import pytest

from chevet.core.mssante import sasl


def test_oauthbearer_matches_rfc7628_example() -> None:
    """RFC 7628 §4.1 (IMAP example): the GS2 header ``n,a=<user>,``, then host, port and
    ``auth=Bearer`` separated by %x01, closed by two %x01; its base64 form is the RFC's."""
    raw = sasl.oauthbearer("user@example.com", "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==",
                           host="server.example.com", port=143)
    assert raw == (b"n,a=user@example.com,\x01host=server.example.com\x01port=143\x01"
                   b"auth=Bearer vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==\x01\x01")
    assert base64.b64encode(raw) == (
        b"bixhPXVzZXJAZXhhbXBsZS5jb20sAWhvc3Q9c2VydmVyLmV4YW1wbGUuY29tAXBvcnQ9MTQzAWF1dGg9QmVhcmVyIHZGOWRmdDRxbVRj"
        b"Mk52YjNSbGNrQmhiSFJoZG1semRHRXVZMjl0Q2c9PQEB")


def test_oauthbearer_without_host_and_escaped_authzid() -> None:
    """RFC 7628 §3.1: host and port are optional; the authzid is a RFC 5801 saslname, where ``=``
    and ``,`` are written ``=3D`` and ``=2C``."""
    assert sasl.oauthbearer("a,b=c@x.test", "tok") == b"n,a=a=2Cb=3Dc@x.test,\x01auth=Bearer tok\x01\x01"


def test_xoauth2_matches_the_published_example() -> None:
    """XOAUTH2 (Google's published SASL XOAUTH2 format): ``user=…^Aauth=Bearer …^A^A``."""
    raw = sasl.xoauth2("someuser@example.com", "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg")
    assert base64.b64encode(raw) == (
        b"dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB5YTI5LnZGOWRmdDRxbVRjMk52YjNSbGNrQmhkSFJoZG1semRHRXVZ"
        b"Mjl0Q2cBAQ==")


@pytest.mark.parametrize("token", ["", "a b", "tok\x01auth=Bearer other", "é", "x" * 20000, "=abc"])
def test_a_token_that_is_not_a_b64token_is_refused(token: str) -> None:
    """RFC 6750 §2.1 ``b64token``: nothing else may reach the wire (no %x01 injection)."""
    for mech in sasl.MECHANISMS:
        with pytest.raises(sasl.SaslError) as err:
            sasl.initial_response(mech, "box@ehpad.test", token)
        assert err.value.code == "sasl_token_invalid"


@pytest.mark.parametrize("user", ["", "box\x01@ehpad.test", "box\r\n@ehpad.test"])
def test_a_user_with_control_characters_is_refused(user: str) -> None:
    with pytest.raises(sasl.SaslError):
        sasl.xoauth2(user, "tok")


def test_error_challenge_and_abort() -> None:
    """RFC 7628 §3.2.2–3.2.3: the server's JSON error; the client answers %x01 (XOAUTH2: empty)."""
    err = sasl.server_error(b'{"status":"invalid_token","scope":"openid","schemes":"bearer"}')
    assert err == sasl.ServerError("invalid_token", "openid")
    assert sasl.server_error(b"not json") is None and sasl.server_error(b"[1]") is None
    assert sasl.abort_response("OAUTHBEARER") == b"\x01" and sasl.abort_response("XOAUTH2") == b""


def test_choice_of_mechanism() -> None:
    assert sasl.choose({"PLAIN", "XOAUTH2", "OAUTHBEARER"}) == "OAUTHBEARER"
    assert sasl.choose({"xoauth2", "oauthbearer"}, "XOAUTH2") == "XOAUTH2"
    assert sasl.choose({"XOAUTH2"}, "OAUTHBEARER") == "XOAUTH2"
    assert sasl.choose({"PLAIN"}) is None
