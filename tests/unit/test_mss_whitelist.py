"""The trust space's list of domains (liste blanche): read namespace-aware, hostile input
refused, never rolled back, and judged fail-closed.

References: RFC 1035 §2.3.1 and RFC 5321 §4.1.2 (domain syntax); XML Namespaces 1.0 §3
(a name is its namespace plus its local part: a same-named element in another namespace is
another element); the format read is documented in ``chevet.core.mssante.whitelist`` (the
national list's own format is not public in the documents held)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chevet.app.mssante.whitelist import TrustSpace
from chevet.core.mssante import whitelist as wl

NS = wl.DEFAULT_NAMESPACE
NOW = datetime(2026, 12, 7, 12, tzinfo=UTC)


def doc(*domains: str, generated: str = "2026-12-07T03:00:00+01:00", ns: str = NS, prefix: str = "") -> bytes:
    p = f"{prefix}:" if prefix else ""
    decl = f'xmlns:{prefix}="{ns}"' if prefix else f'xmlns="{ns}"'
    body = "".join(f"<{p}domaine> {d} </{p}domaine>" for d in domains)
    return (f'<?xml version="1.0" encoding="UTF-8"?><{p}listeBlanche {decl} dateGeneration="{generated}">'
            f'<{p}operateur identifiant="OP-1" nom="Opérateur A">{body}</{p}operateur>'
            f"</{p}listeBlanche>").encode()


class Memory:
    def __init__(self) -> None:
        self.data: bytes | None = None

    def read(self) -> bytes | None:
        return self.data

    def write(self, data: bytes) -> None:
        self.data = data

    def stamp(self) -> object:
        return self.data


def test_reads_domains_by_namespace_whatever_the_prefix() -> None:
    """XML Namespaces §3: ``<wl:domaine>`` under a declared prefix is the same element."""
    for raw in (doc("chb.mssante.fr", "*.ght.mssante.fr"), doc("chb.mssante.fr", "*.ght.mssante.fr", prefix="wl")):
        got = wl.parse(raw)
        assert got.domains == {"chb.mssante.fr"} and got.suffixes == {"ght.mssante.fr"}
        assert got.generated_at == datetime(2026, 12, 7, 2, tzinfo=UTC)
        assert got.allows("CHB.mssante.fr.") and got.allows("ch-a.ght.mssante.fr")
        assert not got.allows("ght.mssante.fr")            # a wildcard names sub-domains only
        assert not got.allows("evil-chb.mssante.fr") and not got.allows("chb.mssante.fr.evil.test")
        assert got.allows_address("dr.x@chb.mssante.fr") and not got.allows_address("@chb.mssante.fr")


def test_a_document_in_another_namespace_is_refused_not_guessed() -> None:
    with pytest.raises(wl.WhitelistRefused) as refused:
        wl.parse(doc("chb.mssante.fr", ns="urn:other"))
    assert refused.value.reason == "namespace"
    with pytest.raises(wl.WhitelistRefused):
        wl.parse(b'<listeBlanche dateGeneration="2026-12-07T03:00:00+01:00"><operateur><domaine>a.fr</domaine>'
                 b"</operateur></listeBlanche>")
    # The configured namespace is the one read.
    assert wl.parse(doc("a.mssante.fr", ns="urn:ans:lb:2"), "urn:ans:lb:2").domains == {"a.mssante.fr"}


@pytest.mark.parametrize(("raw", "reason"), [
    (b'<!DOCTYPE l [<!ENTITY a "aaaa">]><listeBlanche xmlns="' + NS.encode() + b'"/>', "xml_dtd"),
    (b'<?xml version="1.0"?><!DOCTYPE l SYSTEM "http://evil.test/x.dtd"><l/>', "xml_dtd"),
    (b"<listeBlanche", "xml_unreadable"),
    (b'<listeBlanche xmlns="' + NS.encode() + b'"/>', "date_missing"),
    (doc("chb.mssante.fr", generated="2026-12-07T03:00:00"), "date_without_offset"),
    (doc(), "empty"),
    (doc("chb..mssante.fr"), "domain_invalid"),
    (doc("-chb.mssante.fr"), "domain_invalid"),
    (doc("localhost"), "domain_invalid"),
    (doc("chb.mssante.fr\u00a0x"), "domain_invalid"),
    (doc("a" * 64 + ".fr"), "domain_invalid"),
])
def test_hostile_or_malformed_lists_are_refused_with_a_reason(raw: bytes, reason: str) -> None:
    with pytest.raises(wl.WhitelistRefused) as refused:
        wl.parse(raw)
    assert refused.value.reason == reason
    assert refused.value.code == "mss_whitelist_refused"


def test_size_bound() -> None:
    with pytest.raises(wl.WhitelistRefused) as refused:
        wl.parse(b" " * (wl.MAX_BYTES + 1))
    assert refused.value.reason == "too_large"


@given(st.binary(max_size=400))
def test_any_bytes_either_parse_or_are_refused(raw: bytes) -> None:
    try:
        wl.parse(raw)
    except wl.WhitelistRefused:
        pass


def test_judged_fail_closed() -> None:
    """No list, or an out-of-date one: the mail waits (4xx), neither accepted nor refused for good."""
    current = wl.parse(doc("chb.mssante.fr"))
    week = timedelta(days=7)
    assert wl.verdict(None, "chb.mssante.fr", NOW, week) is wl.Verdict.NO_LIST
    assert wl.verdict(current, "chb.mssante.fr", NOW + timedelta(days=8), week) is wl.Verdict.STALE
    assert wl.verdict(current, "chb.mssante.fr", NOW, week) is wl.Verdict.ALLOWED
    assert wl.verdict(current, "gmail.com", NOW, week) is wl.Verdict.UNLISTED
    assert wl.verdict(current, None, NOW, week) is wl.Verdict.UNLISTED


def test_the_trust_space_keeps_the_list_and_never_goes_back() -> None:
    store = Memory()
    space = TrustSpace(store)
    assert space.load() is None and space.verdict("chb.mssante.fr", NOW) is wl.Verdict.NO_LIST
    space.import_document(doc("chb.mssante.fr", generated="2026-12-07T03:00:00+01:00"))
    assert space.verdict("chb.mssante.fr", NOW) is wl.Verdict.ALLOWED
    with pytest.raises(wl.WhitelistRefused) as refused:
        space.import_document(doc("chb.mssante.fr", "old.mssante.fr", generated="2026-12-01T03:00:00+01:00"))
    assert refused.value.reason == "older_than_current"
    with pytest.raises(wl.WhitelistRefused):
        space.import_document(b"<nope/>")
    assert space.verdict("old.mssante.fr", NOW) is wl.Verdict.UNLISTED   # nothing changed
    again = TrustSpace(store)                                            # a restart reads the kept copy
    assert again.load() is not None and again.verdict("chb.mssante.fr", NOW) is wl.Verdict.ALLOWED
    # Another process (the command line) imports a newer list: the running one enforces it at once.
    TrustSpace(store).import_document(doc("new.mssante.fr", generated="2026-12-07T09:00:00+01:00"))
    assert again.verdict("new.mssante.fr", NOW) is wl.Verdict.ALLOWED
    assert again.verdict("chb.mssante.fr", NOW) is wl.Verdict.UNLISTED


def test_the_from_header_domain() -> None:
    assert wl.header_sender_domain(b"From: \"Dr X\" <x@CHB.mssante.fr>\r\nTo: a@b.fr\r\n\r\nbody") == "chb.mssante.fr"
    assert wl.header_sender_domain(b"From: a@b.fr, c@d.fr\r\n\r\n") is None
    assert wl.header_sender_domain(b"To: a@b.fr\r\n\r\n") is None
    assert wl.header_sender_domain(b"From: a@b.fr\r\nFrom: c@d.fr\r\n\r\n") is None
