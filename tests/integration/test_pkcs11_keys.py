"""Organisations' keys on a PKCS#11 token, with SoftHSM2 (a real token, not a mock): the key is
made on the token and stays there, the token wraps and unwraps, a pulled-out token or a wrong
PIN makes the key unavailable (nothing else) and the provider finds the token again by itself.

Time: the provider's back-off reads the monotonic clock given to it; the tests hand it a manual
one and move it on, never waiting."""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from chevet.adapters.pkcs11_keys import Pkcs11Provider, object_label
from chevet.core.errors import IntegrityError
from chevet.ports.organisation_keys import CURRENT, OrganisationKey, OrganisationKeyUnavailable
from chevet.settings import load_settings
from tests import softhsm_support
from tests.softhsm_support import SoftHsm, SoftHsmToken

RETRY = 2.0


class ManualMonotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> ManualMonotonic:
    return ManualMonotonic()


def _provider(clock: ManualMonotonic, *tokens: SoftHsmToken, environ: dict[str, str] | None = None) -> Pkcs11Provider:
    """Built from the settings, as bootstrap does."""
    settings = load_settings(Path("/nonexistent-chevet"), environ={}, **softhsm_support.settings_for(*tokens))
    return Pkcs11Provider(settings.organisation_keys.tokens, retry_seconds=RETRY, monotonic=clock,
                          environ=environ)


@pytest.fixture
def provider(clock: ManualMonotonic, softhsm_token: SoftHsmToken) -> Pkcs11Provider:
    return _provider(clock, softhsm_token)


def _new_key(provider: Pkcs11Provider, token: SoftHsmToken, version: int = 1) -> OrganisationKey:
    org_id = uuid.uuid4()
    reference, wrapped = provider.create(org_id, version, token.name)
    assert wrapped is None
    return OrganisationKey(org_id, version, "pkcs11", reference, None, CURRENT, datetime.now(UTC))


def _aad(key: OrganisationKey) -> bytes:
    return b"okey|" + key.org_id.bytes + b"|conversation|" + uuid.uuid4().bytes


@pytest.fixture
def present(softhsm_token: SoftHsmToken) -> Iterator[SoftHsmToken]:
    """The token, put back in with its right PIN whatever a test did."""
    yield softhsm_token
    assert softhsm_token.present


def test_the_token_wraps_and_unwraps_and_refuses_what_is_not_its_own(provider: Pkcs11Provider,
                                                                    softhsm_token: SoftHsmToken) -> None:
    key = _new_key(provider, softhsm_token)
    assert key.reference == f"{softhsm_token.name}/{object_label(key.org_id, 1)}"
    data_key, aad = os.urandom(32), _aad(key)
    wrapped = provider.wrap(key, data_key, aad)
    assert data_key not in wrapped and len(wrapped) == 12 + 32 + 16
    assert provider.unwrap(key, wrapped, aad) == data_key
    assert provider.wrap(key, data_key, aad) != wrapped  # a fresh IV each time

    other = _new_key(provider, softhsm_token)  # another organisation's key on the same token
    with pytest.raises(IntegrityError, match="ciphertext_invalid"):
        provider.unwrap(other, wrapped, aad)
    with pytest.raises(IntegrityError, match="ciphertext_invalid"):
        provider.unwrap(key, wrapped, aad + b"x")  # moved to another row or organisation
    tampered = bytearray(wrapped)
    tampered[20] ^= 1
    with pytest.raises(IntegrityError, match="ciphertext_invalid"):
        provider.unwrap(key, bytes(tampered), aad)
    with pytest.raises(IntegrityError, match="ciphertext_invalid"):
        provider.unwrap(key, wrapped[:20], aad)
    assert provider.unwrap(key, wrapped, aad) == data_key  # the refusals left the session usable
    provider.check(key)


def test_pkcs11_tool_sees_a_sensitive_key_that_cannot_be_extracted(provider: Pkcs11Provider,
                                                                  softhsm_token: SoftHsmToken) -> None:
    key = _new_key(provider, softhsm_token, version=3)
    label = object_label(key.org_id, 3)
    listing = softhsm_token.pkcs11_tool("--list-objects", "--type", "secrkey")
    (block,) = [b for b in listing.split("Secret Key Object;") if f"label:      {label}\n" in b]
    assert block.startswith(" AES length 32")
    usage = next(line for line in block.splitlines() if line.strip().startswith("Usage:"))
    assert usage.split(":", 1)[1].strip() == "encrypt, decrypt"
    access = next(line for line in block.splitlines() if line.strip().startswith("Access:"))
    assert {"sensitive", "always sensitive", "never extractable"} <= {a.strip() for a in access.split(":", 1)[1]
                                                                     .split(",")}
    with pytest.raises(AssertionError, match="failed"):
        softhsm_token.pkcs11_tool("--read-object", "--type", "secrkey", "--label", label)


def test_no_data_key_in_the_token_files(provider: Pkcs11Provider, softhsm_token: SoftHsmToken) -> None:
    key = _new_key(provider, softhsm_token)
    data_keys = [os.urandom(32) for _ in range(5)]
    aad = _aad(key)
    wrapped = [provider.wrap(key, k, aad) for k in data_keys]
    assert [provider.unwrap(key, w, aad) for w in wrapped] == data_keys
    files = [p for p in softhsm_token.softhsm.base.rglob("*") if p.is_file()]
    assert any(p.name.endswith(".object") for p in files)
    for path in files:
        content = path.read_bytes()
        for k in data_keys:
            assert k not in content and k.hex().encode() not in content, path.name


def test_a_pulled_out_token_is_unavailable_then_found_again_by_itself(provider: Pkcs11Provider, present: SoftHsmToken,
                                                                    clock: ManualMonotonic) -> None:
    key = _new_key(provider, present)
    data_key, aad = os.urandom(32), _aad(key)
    wrapped = provider.wrap(key, data_key, aad)
    with present.removed():
        with pytest.raises(OrganisationKeyUnavailable) as caught:
            provider.unwrap(key, wrapped, aad)
        assert caught.value.org_id == key.org_id and caught.value.dependency == "organisation_keys"
        clock.advance(RETRY + 1)
        with pytest.raises(OrganisationKeyUnavailable):  # the library initialised again: still absent
            provider.wrap(key, data_key, aad)
        with pytest.raises(OrganisationKeyUnavailable):
            provider.check(key)
    # Put back, within the back-off: not asked yet.
    with pytest.raises(OrganisationKeyUnavailable):
        provider.unwrap(key, wrapped, aad)
    clock.advance(RETRY + 1)
    assert provider.unwrap(key, wrapped, aad) == data_key
    provider.check(key)
    assert provider.unwrap(key, provider.wrap(key, data_key, aad), aad) == data_key


def _logged_out(provider: Pkcs11Provider, key: OrganisationKey, token: SoftHsmToken, clock: ManualMonotonic) -> None:
    """The process's login on the token ends: pulled out once (the PIN is needed again)."""
    with token.removed(), pytest.raises(OrganisationKeyUnavailable):
        provider.check(key)
    clock.advance(RETRY + 1)


def test_a_wrong_pin_is_unavailable_and_a_corrected_pin_file_is_taken(
        clock: ManualMonotonic, present: SoftHsmToken, provider: Pkcs11Provider) -> None:
    key = _new_key(provider, present)
    data_key, aad = os.urandom(32), _aad(key)
    wrapped = provider.wrap(key, data_key, aad)

    _logged_out(provider, key, present, clock)
    with present.wrong_pin():
        with pytest.raises(OrganisationKeyUnavailable):
            provider.unwrap(key, wrapped, aad)
        clock.advance(RETRY + 1)
        with pytest.raises(OrganisationKeyUnavailable):
            provider.unwrap(key, wrapped, aad)
    clock.advance(RETRY + 1)
    assert provider.unwrap(key, wrapped, aad) == data_key

    _logged_out(provider, key, present, clock)
    os.chmod(present.pin_file, 0o644)  # others may read it: refused
    try:
        with pytest.raises(OrganisationKeyUnavailable):
            provider.unwrap(key, wrapped, aad)
    finally:
        os.chmod(present.pin_file, 0o600)
    clock.advance(RETRY + 1)
    assert provider.unwrap(key, wrapped, aad) == data_key

    _logged_out(provider, key, present, clock)
    present.pin_file.rename(present.pin_file.with_suffix(".away"))
    try:
        with pytest.raises(OrganisationKeyUnavailable):
            provider.unwrap(key, wrapped, aad)
    finally:
        present.pin_file.with_suffix(".away").rename(present.pin_file)
    clock.advance(RETRY + 1)
    assert provider.unwrap(key, wrapped, aad) == data_key


def test_the_pin_from_an_environment_variable(clock: ManualMonotonic, present: SoftHsmToken) -> None:
    tokens = {present.name: {"module": str(present.module), "label": present.label,
                             "pin_env": "CHEVET_TEST_TOKEN_PIN"}}
    settings = load_settings(Path("/nonexistent-chevet"), environ={}, organisation_keys__tokens=tokens)

    def provider(environ: dict[str, str]) -> Pkcs11Provider:
        return Pkcs11Provider(settings.organisation_keys.tokens, retry_seconds=RETRY, monotonic=clock,
                              environ=environ)

    unset = provider({})
    key = _new_key(_provider(clock, present), present)
    _logged_out(unset, key, present, clock)
    with pytest.raises(OrganisationKeyUnavailable):
        unset.check(key)

    given = provider({"CHEVET_TEST_TOKEN_PIN": present.pin})
    data_key, aad = os.urandom(32), _aad(key)
    assert given.unwrap(key, given.wrap(key, data_key, aad), aad) == data_key


def test_another_token_keeps_working_while_one_is_pulled_out(clock: ManualMonotonic, softhsm: SoftHsm,
                                                             present: SoftHsmToken) -> None:
    other = softhsm.tokens.get("ehpad-b") or softhsm.new_token("ehpad-b", "EHPAD-B")
    provider = _provider(clock, present, other)
    key_a, key_b = _new_key(provider, present), _new_key(provider, other)
    aad_a, aad_b = _aad(key_a), _aad(key_b)
    wrapped_a, wrapped_b = provider.wrap(key_a, b"a" * 32, aad_a), provider.wrap(key_b, b"b" * 32, aad_b)
    with present.removed():
        for _ in range(3):
            with pytest.raises(OrganisationKeyUnavailable):
                provider.unwrap(key_a, wrapped_a, aad_a)
            # The library was initialised again for the pulled-out token: the other one's
            # session is opened anew, unseen.
            assert provider.unwrap(key_b, wrapped_b, aad_b) == b"b" * 32
            clock.advance(RETRY + 1)
    assert provider.unwrap(key_a, wrapped_a, aad_a) == b"a" * 32
    assert provider.unwrap(key_b, wrapped_b, aad_b) == b"b" * 32


def test_destroying_the_key_removes_it_from_the_token(provider: Pkcs11Provider, softhsm_token: SoftHsmToken) -> None:
    key = _new_key(provider, softhsm_token, version=2)
    aad = _aad(key)
    wrapped = provider.wrap(key, os.urandom(32), aad)
    said = provider.destroy(key)
    label = object_label(key.org_id, 2)
    assert label in said and softhsm_token.label in said and softhsm_token.serial in said and "détruit" in said
    assert label not in softhsm_token.pkcs11_tool("--list-objects", "--type", "secrkey")
    with pytest.raises(OrganisationKeyUnavailable):  # the object is not on the token any more
        provider.unwrap(key, wrapped, aad)
    assert "déjà absent" in provider.destroy(key)  # an interrupted shredding can run again
    assert provider.serial(softhsm_token.name) == softhsm_token.serial


def test_create_names_a_configured_token_and_is_safe_to_repeat(provider: Pkcs11Provider,
                                                               softhsm_token: SoftHsmToken) -> None:
    with pytest.raises(ValueError, match="no PKCS#11 token named"):
        provider.create(uuid.uuid4(), 1, "elsewhere")
    with pytest.raises(ValueError, match="no PKCS#11 token named"):
        provider.create(uuid.uuid4(), 1, None)
    key = _new_key(provider, softhsm_token)
    # A creation interrupted before its row was stored, tried again: the same object.
    assert provider.create(key.org_id, 1, softhsm_token.name) == (key.reference, None)
    listing = softhsm_token.pkcs11_tool("--list-objects", "--type", "secrkey")
    assert listing.count(f"label:      {object_label(key.org_id, 1)}\n") == 1


def test_a_key_of_an_unconfigured_token_is_unavailable(provider: Pkcs11Provider) -> None:
    key = OrganisationKey(uuid.uuid4(), 1, "pkcs11", "gone-token/chevet-org-x-v1", None, CURRENT, datetime.now(UTC))
    with pytest.raises(OrganisationKeyUnavailable):
        provider.unwrap(key, os.urandom(60), b"aad")


def test_threads_share_the_token(provider: Pkcs11Provider, softhsm_token: SoftHsmToken) -> None:
    key = _new_key(provider, softhsm_token)
    aad = _aad(key)
    failures: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(20):
                data_key = os.urandom(32)
                assert provider.unwrap(key, provider.wrap(key, data_key, aad), aad) == data_key
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=work) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
