from hypothesis import given
from hypothesis import strategies as st

from chevet.core import blind_index as bi

KEY = b"k" * 32


def test_words_are_folded_stemmed_and_stripped_of_stop_words() -> None:
    assert bi.words("Le résident a fait une CHUTE, hématomes au front.") == [
        "resident", "fait", "chut", "hematom", "front"]


def test_singular_plural_masculine_feminine_meet() -> None:
    for a, b in [("hématome", "hématomes"), ("infirmier", "infirmière"), ("Pansement", "pansements"),
                 ("chute", "chutes")]:
        assert bi.words(a) == bi.words(b)


def test_terms_are_keyed_per_conversation() -> None:
    assert bi.terms(KEY, "escarre sacrum") == bi.terms(KEY, "Sacrum : escarre")
    assert bi.terms(KEY, "escarre") != bi.terms(b"o" * 32, "escarre")


@given(st.lists(st.integers(min_value=-(2**31), max_value=2**31 - 1), max_size=64))
def test_pack_unpack_round_trip(values: list[int]) -> None:
    assert bi.unpack(bi.pack(values)) == values


@given(st.text(max_size=300))
def test_terms_are_bounded_sorted_and_distinct(text: str) -> None:
    t = bi.terms(KEY, text)
    assert t == sorted(set(t)) and len(t) <= bi.MAX_TERMS


def test_matches_requires_every_query_word() -> None:
    assert bi.matches("chutes nocturnes", "Chute nocturne ce matin")
    assert not bi.matches("chute escarre", "Chute nocturne ce matin")
    assert not bi.matches("le la", "le la les")  # only stop words: nothing to match
