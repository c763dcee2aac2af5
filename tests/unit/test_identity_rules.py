"""Identity rules without I/O: PSC acr and national identifiers, recovery codes, session
policy timeouts, and the numbered master-key file (including files and blobs written before
key numbers existed)."""

from __future__ import annotations

import base64
import os
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chevet.adapters.keys import KeyFile, add_key, create_key_file, read_key_file, retire_keys
from chevet.core import envelope, identity
from chevet.core.errors import AuthenticationFailed, IntegrityError, InvalidInput


@pytest.mark.parametrize("claims", [{}, {"acr": None}, {"acr": "eidas0"}, {"acr": "EIDAS1"}, {"acr": ["eidas1"]}])
def test_acr_missing_or_lower_is_refused(claims: dict) -> None:
    with pytest.raises(AuthenticationFailed):
        identity.check_psc_acr(claims)


def test_acr_eidas1_is_accepted() -> None:
    identity.check_psc_acr({"acr": "eidas1"})


@pytest.mark.parametrize(("value", "number"), [
    ("810001234567", "10001234567"), ("0123456789", "123456789"), ("10001234567", "10001234567"),
    ("8100012345", None), ("abc", None), (None, None), (810001234567, None), ("810001234567\n1", None)])
def test_national_number(value: object, number: str | None) -> None:
    assert identity.national_number(value) == number


def test_recovery_codes_are_random_and_normalised() -> None:
    codes = {identity.new_recovery_code() for _ in range(50)}
    assert len(codes) == 50
    code = codes.pop()
    canonical = identity.normalise_recovery_code(code.lower().replace("-", " "))
    assert canonical == code.replace("-", "")
    assert identity.recovery_code_hash(canonical) != identity.recovery_code_hash(identity.normalise_recovery_code(
        identity.new_recovery_code()) or "")


@given(st.text(max_size=40))
def test_normalising_never_fails(text: str) -> None:
    value = identity.normalise_recovery_code(text)
    assert value is None or (len(value) == 16 and value.isupper())


def test_session_policy_bounds_and_expiry() -> None:
    with pytest.raises(InvalidInput):
        identity.SessionPolicy.of_minutes(60, 30, 5)  # idle longer than the absolute lifetime
    with pytest.raises(InvalidInput):
        identity.SessionPolicy.of_minutes(True, 60, 5)  # type: ignore[arg-type]
    policy = identity.SessionPolicy.of_minutes(30, 600, 10)
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    grain = timedelta(minutes=1)
    assert identity.session_expired(policy, t0, t0 + timedelta(minutes=20), t0 + timedelta(minutes=45), grain) is None
    assert identity.session_expired(policy, t0, t0, t0 + timedelta(minutes=32), grain) == "idle"
    assert identity.session_expired(policy, t0, t0 + timedelta(hours=9, minutes=59), t0 + timedelta(hours=10),
                                    grain) == "absolute"


def test_key_file_rotation_keeps_old_blobs_readable(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    create_key_file(path)
    keys = KeyFile(path)
    aad = envelope.aad("ckey", uuid.uuid4())
    first = keys.wrap(b"k" * 32, aad)
    assert keys.key_id_of(first) == 1
    assert add_key(path) == (1, 2)
    keys.reload(force=True)
    second = keys.wrap(b"j" * 32, aad)
    assert keys.key_id_of(second) == 2 and keys.current_key_id() == 2
    assert keys.unwrap(first, aad) == b"k" * 32 and keys.unwrap(second, aad) == b"j" * 32
    assert len(keys.derive_all("credentials")) == 2 and keys.derive_all("credentials")[0] == keys.derive("credentials")
    assert retire_keys(path, {1, 2}) == [1]  # never the current key
    keys.reload(force=True)
    with pytest.raises(IntegrityError):
        keys.unwrap(first, aad)
    assert read_key_file(path)[1] == 2 and os.stat(path).st_mode & 0o077 == 0


def test_version_1_key_file_and_blobs_still_open(tmp_path: Path) -> None:
    path = tmp_path / "old.key"
    root = envelope.random_key()
    path.write_text(f"chevet-master-key-v1\n{base64.b64encode(root).decode()}\n")
    path.chmod(0o600)
    aad = b"ckey|old"
    legacy = envelope.seal(envelope.derive_key(root, "wrap"), b"d" * 32, aad)  # as written before numbering
    keys = KeyFile(path)
    assert keys.unwrap(legacy, aad) == b"d" * 32
    assert keys.derive("credentials") == envelope.derive_key(root, "credentials")


def test_pkce_challenge_matches_rfc7636_appendix_b() -> None:
    # The specification's own example (RFC 7636, Appendix B).
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert identity.pkce_s256_challenge(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
