"""The blind index's normalisation and its terms of words and word beginnings."""

from __future__ import annotations

from chevet.core import blind_index as bi

KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))


def test_words_are_folded_and_elided_articles_removed() -> None:
    assert bi.tokens("L'Hématome d’Élise, jusqu'au TALON") == ["hematome", "elise", "talon"]
    assert bi.tokens("aujourd'hui qu'il") == ["aujourd", "hui"]  # only elided words go
    assert bi.words("Pansements du talon, pansement refait") == ["pansement", "talon", "refait"]


def test_prefixes_are_the_beginnings_of_3_and_5_letters_shorter_than_the_word() -> None:
    assert bi.prefixes("pansement") == ["pan", "panse"]
    assert bi.prefixes("talon") == ["tal"]  # "talon" itself has its word term
    assert bi.prefixes("tal") == [] and bi.prefixes("2026") == [] and bi.prefixes("14h30") == []
    assert bi.looked_up("talo") == "tal" and bi.looked_up("pansem") == "panse" and bi.looked_up("ta") is None


def test_prefix_terms_are_apart_from_word_terms() -> None:
    # "tal" the word and "tal" the beginning of "talon" never share a term
    assert bi.prefix_term(KEY, "tal") != bi.term(KEY, "tal")
    assert bi.terms(KEY, "tal") == [bi.term(KEY, "tal")]
    assert bi.terms(KEY, "talon") == sorted([bi.term(KEY, "talon"), bi.prefix_term(KEY, "tal")])
    assert bi.term(KEY, "tal") not in bi.terms(KEY, "talon")
    # a long word is found by its 5-letter beginning and needs no word term
    assert bi.terms(KEY, "pansements") == sorted([bi.prefix_term(KEY, "pan"), bi.prefix_term(KEY, "panse")])
    assert bi.terms(KEY, "14h30") == [bi.term(KEY, "14h30")]
    # and terms of another key (conversation) are other numbers
    assert set(bi.terms(KEY, "talon")).isdisjoint(bi.terms(OTHER_KEY, "talon"))


def test_terms_are_capped_per_message() -> None:
    text = " ".join(f"mot{chr(97 + i // 26)}{chr(97 + i % 26)}suite" for i in range(200))
    assert len(bi.terms(KEY, text + " " + " ".join(f"m{i}" for i in range(100)))) == bi.MAX_TERMS + bi.MAX_PREFIX_TERMS
    assert len(bi.terms(KEY, "pansement pansement PANSEMENT")) == 2


def test_a_query_word_matches_words_beginning_with_it_or_the_same_word() -> None:
    text = "Pansement du talon refait"
    for query in ("tal", "pans", "TALON", "talo", "pansements", "Talon refait"):
        assert bi.matches(query, text), query
    for query in ("alon", "talons refaits plaie", "pansementa", "tala"):
        assert not bi.matches(query, text), query
    assert bi.matches("hématomes", "un hématome")  # the stemmed word still meets


def test_a_stored_message_holds_one_term_of_each_query_word() -> None:
    stored = set(bi.terms(KEY, "Pansement du talon refait"))
    for query in ("tal", "pans", "TALON", "talo", "pansem"):
        assert all(stored & set(options) for options in bi.parse(query).alternatives(KEY)), query
    # "tala" is looked up by "tal": the message is a candidate, dropped once opened (matches())
    assert all(stored & set(o) for o in bi.parse("tala").alternatives(KEY))
    assert not all(stored & set(o) for o in bi.parse("pansu").alternatives(KEY))


def test_one_or_two_letters_alone_are_not_a_search() -> None:
    assert not bi.parse("ta").searchable and not bi.parse("ab cd").searchable
    assert bi.parse("9h").searchable and bi.parse("tal").searchable
    assert bi.parse("ok talon").alternatives(KEY)[0] == [bi.term(KEY, "ok")]  # exact only
    assert bi.refusal("ta") == bi.refusal("l' d'") == bi.refusal("ab") == "search_query_short"
    assert bi.refusal("  ") == bi.refusal("pour les") == "search_query_empty"
    assert bi.refusal("tal") is None and bi.refusal("9h") is None


def test_highlights_mark_the_matched_beginning() -> None:
    assert bi.highlights("tal pans", "Pansement du talon") == [
        ("Pans", True), ("ement du ", False), ("tal", True), ("on", False)]
    assert bi.highlights("TALON", "Le Talon") == [("Le ", False), ("Talon", True)]
    assert bi.highlights("ele", "e\u0301le\u0301vation") == [("élé", True), ("vation", False)]  # decomposed
    long = "début " * 60 + "talon " + "fin " * 60
    cut = bi.snippet("tal", long, 80)
    assert ("tal", True) in cut and cut[0][0].startswith("…") and cut[-1][0].endswith("…")
    assert sum(len(p) for p, _ in cut) <= 82


def test_every_matching_word_is_a_candidate() -> None:
    """Whatever a query word answers (a word beginning with it, or with the same stem), the
    message holds one of its terms, though long words keep no word term: checked over every
    word of 3 to 6 letters made of letters that the stemming removes and others."""
    import itertools
    from collections import defaultdict

    vocabulary = [w for n in range(3, 7) for p in itertools.product("aesx", repeat=n)
                  if (w := "".join(p)) not in bi.STOP_WORDS]
    by_stem: dict[str, list[str]] = defaultdict(list)
    for t in vocabulary:
        by_stem[bi.stem(t)].append(t)
    missed = []
    for t in vocabulary:
        stored = set(bi.terms(KEY, t))
        for w in {*(t[:i] for i in range(3, len(t) + 1)), *by_stem[bi.stem(t)]}:
            if w in bi.STOP_WORDS:
                continue
            if bi.word_matches(w, t) and not stored & set(bi.parse(w).alternatives(KEY)[0]):
                missed.append((w, t))
    assert missed == []


def test_fold_is_idempotent_on_compatibility_characters() -> None:
    # Some characters only become letters by compatibility decomposition, and then in capitals
    # ("㉐" is the letters PTE in a square, "㎒" is MHz): folding must lower those too, or a word
    # folded twice (an address stored folded, then compared folded) no longer meets itself.
    for text in ("㉐", "㎒", "Ⅻ", "ﬁ", "Ǆ"):
        once = bi.fold(text)
        assert once == once.lower() and bi.fold(once) == once, text
