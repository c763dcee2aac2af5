import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chevet.core import envelope
from chevet.core.errors import IntegrityError

KEY = envelope.random_key()
A, B = uuid.uuid4(), uuid.uuid4()


@given(st.binary(max_size=4096))
def test_seal_then_open_returns_the_plaintext(data: bytes) -> None:
    sealed = envelope.seal(KEY, data, envelope.aad("msg", A))
    assert envelope.open_sealed(KEY, sealed, envelope.aad("msg", A)) == data
    assert len(sealed) == len(data) + envelope.OVERHEAD


@given(st.binary(min_size=1, max_size=256))
def test_a_ciphertext_moved_to_another_row_does_not_open(data: bytes) -> None:
    sealed = envelope.seal(KEY, data, envelope.aad("msg", A, B))
    with pytest.raises(IntegrityError):
        envelope.open_sealed(KEY, sealed, envelope.aad("msg", B, A))
    with pytest.raises(IntegrityError):
        envelope.open_sealed(KEY, sealed, envelope.aad("title", A, B))


@given(st.binary(min_size=1, max_size=256), st.integers(min_value=0))
def test_any_flipped_bit_is_detected(data: bytes, where: int) -> None:
    sealed = bytearray(envelope.seal(KEY, data, b"x"))
    i = where % len(sealed)
    sealed[i] ^= 1
    with pytest.raises(IntegrityError):
        envelope.open_sealed(KEY, bytes(sealed), b"x")


def test_wrong_key_and_garbage_are_refused() -> None:
    sealed = envelope.seal(KEY, b"secret", b"x")
    with pytest.raises(IntegrityError):
        envelope.open_sealed(envelope.random_key(), sealed, b"x")
    for junk in (b"", b"\x01", b"\x02" + sealed[1:]):
        with pytest.raises(IntegrityError):
            envelope.open_sealed(KEY, junk, b"x")


def test_same_plaintext_seals_differently_each_time() -> None:
    assert envelope.seal(KEY, b"same", b"x") != envelope.seal(KEY, b"same", b"x")


def test_derived_keys_differ_by_purpose_and_hide_in_repr() -> None:
    assert envelope.derive_key(KEY, "search") != envelope.derive_key(KEY, "bus")
    dk = envelope.DataKey(KEY)
    assert dk.search_key == envelope.derive_key(KEY, "search")
    assert KEY.hex() not in repr(dk)
