"""IHE_XDM.zip packages: built as the MSSanté guides describe, hostile archives refused."""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chevet.core import untrusted_xml
from chevet.core.mssante import xdm
from tests.unit.test_mss_mime import CDA

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
LIMITS = xdm.XdmLimits(max_entries=10, max_entry_bytes=100_000, max_total_bytes=150_000, max_ratio=50)


def _zip(entries: list[tuple[str, bytes]], *, method: int = zipfile.ZIP_DEFLATED,
         attrs: dict[str, int] | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as z:
        for name, data in entries:
            info = zipfile.ZipInfo(name)
            info.compress_type = method
            if attrs and name in attrs:
                info.external_attr = attrs[name]
            z.writestr(info, data)
    return buf.getvalue()


META = b'<?xml version="1.0"?><SubmitObjectsRequest/>'


def test_package_layout_and_round_trip() -> None:
    pdf = b"%PDF-1.4 compte rendu"
    data = xdm.build_xdm([xdm.XdmDocument("DOC0001.XML", "text/xml", CDA),
                          xdm.XdmDocument("DOC0002.PDF", "application/pdf", pdf)], submitted=NOW)
    names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    assert {"README.TXT", "INDEX.HTM", "IHE_XDM/SUBSET01/METADATA.XML", "IHE_XDM/SUBSET01/DOC0001.XML",
            "IHE_XDM/SUBSET01/DOC0002.PDF"} == set(names)
    package = xdm.read_xdm(data, LIMITS)
    assert package.subset == "SUBSET01"
    assert {(d.name, d.mime_type, d.data) for d in package.documents} == {
        ("DOC0001.XML", "text/xml", CDA), ("DOC0002.PDF", "application/pdf", pdf)}
    assert package.cda == [xdm.CdaFacts("11488-4", True)]
    assert b'mimeType="application/pdf"' in package.metadata


@pytest.mark.parametrize("name", ["../evil.txt", "/etc/passwd", "IHE_XDM/../../x", "C:/windows/x", "IHE_XDM//x",
                                  "x\x01y", "..\\evil.txt", "IHE_XDM\\..\\..\\x", "\\etc\\passwd",
                                  "\\\\server\\share\\x", "C:\\windows\\x", "c:evil", "IHE_XDM\\\\x",
                                  "IHE_XDM/S/.\\x", "IHE_XDM/S/a:stream"])
def test_path_tricks_are_refused(name: str) -> None:
    with pytest.raises(xdm.HostileArchive) as refused:
        xdm.read_xdm(_zip([("IHE_XDM/S/METADATA.XML", META), (name, b"x")]), LIMITS)
    assert refused.value.reason == "path"


def test_zip_bomb_by_ratio_is_refused() -> None:
    with pytest.raises(xdm.HostileArchive) as refused:
        xdm.read_xdm(_zip([("IHE_XDM/S/METADATA.XML", META), ("IHE_XDM/S/a.bin", b"\0" * 90_000)]), LIMITS)
    assert refused.value.reason == "compression_ratio"


def test_total_size_and_entry_size_are_bounded() -> None:
    rnd = bytes(range(256)) * 300   # 76,800 bytes that barely compress
    with pytest.raises(xdm.HostileArchive) as refused:
        xdm.read_xdm(_zip([("IHE_XDM/S/METADATA.XML", META), ("IHE_XDM/S/a", rnd), ("IHE_XDM/S/b", rnd)],
                          method=zipfile.ZIP_STORED), LIMITS)
    assert refused.value.reason == "total_too_large"
    with pytest.raises(xdm.HostileArchive) as refused:
        xdm.read_xdm(_zip([("IHE_XDM/S/METADATA.XML", META), ("IHE_XDM/S/a", rnd * 2)], method=zipfile.ZIP_STORED),
                     LIMITS)
    assert refused.value.reason == "entry_too_large"


def test_lying_sizes_are_caught_while_inflating() -> None:
    data = bytearray(_zip([("IHE_XDM/S/METADATA.XML", META), ("IHE_XDM/S/a", b"A" * 5000)]))
    # Patch the declared uncompressed size of the second entry (central directory) to 10 bytes.
    central = data.rfind(b"PK\x01\x02")
    data[central + 24:central + 28] = (10).to_bytes(4, "little")
    with pytest.raises(xdm.HostileArchive):
        xdm.read_xdm(bytes(data), LIMITS)


def test_too_many_entries_symlinks_duplicates_and_no_metadata() -> None:
    many = [("IHE_XDM/S/METADATA.XML", META)] + [(f"IHE_XDM/S/{i}", b"x") for i in range(20)]
    with pytest.raises(xdm.HostileArchive, match="xdm_refused") as refused:
        xdm.read_xdm(_zip(many), LIMITS)
    assert refused.value.reason == "too_many_entries"
    link = _zip([("IHE_XDM/S/METADATA.XML", META), ("IHE_XDM/S/l", b"/etc/passwd")],
                attrs={"IHE_XDM/S/l": 0o120777 << 16})
    assert _reason(link) == "symlink"
    assert _reason(_zip([("IHE_XDM/S/METADATA.XML", META), ("IHE_XDM/S/a", b"1"), ("ihe_xdm/s/A", b"2")])) \
        == "duplicate_entry"
    assert _reason(_zip([("README.TXT", b"x")])) == "no_metadata"
    assert _reason(b"PK\x03\x04 not really") == "not_a_zip"


def test_cda_with_a_doctype_is_refused_not_taken_for_another_document() -> None:
    # Taken for "not a CDA", its confidentiality code (MASQUE_PS…) would go unread.
    evil = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><ClinicalDocument xmlns="urn:hl7-org:v3"/>'
    with pytest.raises(untrusted_xml.UnsafeXml):
        xdm.cda_facts(evil)


def _reason(data: bytes) -> str:
    with pytest.raises(xdm.HostileArchive) as refused:
        xdm.read_xdm(data, LIMITS)
    return refused.value.reason


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000))
def test_any_bytes_are_read_or_refused(data: bytes) -> None:
    try:
        xdm.read_xdm(b"PK\x03\x04" + data, LIMITS)
    except xdm.HostileArchive as exc:
        assert exc.reason


def test_confidentiality_codes_are_carried_and_read_back() -> None:
    restricted = CDA.replace(b"<code ", b'<confidentialityCode code="R" codeSystem="2.16.840.1.113883.5.25"/><code ')
    data = xdm.build_xdm([xdm.XdmDocument("DOC0001.XML", "text/xml", restricted, ("INVISIBLE_PATIENT",)),
                          xdm.XdmDocument("DOC0002.PDF", "application/pdf", b"%PDF-1.4 x",
                                          ("invisible_representants_legaux", "MASQUE_PS"))], submitted=NOW)
    meta = zipfile.ZipFile(io.BytesIO(data)).read("IHE_XDM/SUBSET01/METADATA.XML")
    # Each document has one HL7 code (the CDA's R; N for the PDF, which names none) and its
    # French restrictions (CI-SIS: confidentialityCode [1..*], the HL7 one always present).
    assert meta.count(xdm.CONFIDENTIALITY_SCHEME.encode()) == 5
    package = xdm.read_xdm(data, LIMITS)
    codes = {d.name: d.confidentiality for d in package.documents}
    # The CDA header's own code is read too; the former long name reads as the current one.
    assert codes == {"DOC0001.XML": ("R", "INVISIBLE_PATIENT"),
                     "DOC0002.PDF": ("N", "INVISIBLE_REP_LEGAUX", "MASQUE_PS")}
    assert xdm.cda_facts(restricted) == xdm.CdaFacts("11488-4", True, "R")
    assert xdm.refused_for(package.confidentiality, patient=True) == "INVISIBLE_PATIENT"
    assert xdm.refused_for(package.confidentiality, patient=False) == "MASQUE_PS"
    assert xdm.refused_for(["R", "N"], patient=True) is None


def test_restricted_documents_are_not_sent_where_they_must_not_go() -> None:
    from chevet.app.mssante.exchanges import NewAttachment, _package
    from chevet.app.mssante.gateway import Gateway
    from chevet.core.errors import InvalidInput

    gw = Gateway(nil="N", mailboxes=())
    for codes, peer in ((("INVISIBLE_PATIENT",), "277076322082910@patient.mssante.fr"),
                        (("MASQUE_PS",), "dr.x@medecin.mssante.fr")):
        package = xdm.build_xdm([xdm.XdmDocument("DOC0001.XML", "text/xml", CDA, codes)], submitted=NOW)
        with pytest.raises(InvalidInput, match="mss_document_restricted"):
            _package([NewAttachment("IHE_XDM.zip", "application/zip", package)], gw, NOW, [peer])
    # Invisible to the patient, to a professional: it goes, with its code in the package.
    package = xdm.build_xdm([xdm.XdmDocument("DOC0001.XML", "text/xml", CDA, ("INVISIBLE_PATIENT",))],
                            submitted=NOW)
    out, cda_codes, ins = _package([NewAttachment("IHE_XDM.zip", "application/zip", package)], gw, NOW,
                                   ["dr.x@medecin.mssante.fr"])
    assert cda_codes == ("11488-4",) and ins is True
    assert xdm.read_xdm(out[0].data, LIMITS).confidentiality == ("N", "INVISIBLE_PATIENT")


# --- packages written by other producers (issue item 5) --------------------------------------

def _other_producer_metadata(*uris: tuple[str, str]) -> bytes:
    """A METADATA.XML as another XDM producer writes it: symbolic ids, a URI and MIME type per
    document (ITI TF-2b §3.32.4.1.4.2: one SUBMISSIONSET folder per submission set)."""
    objects = "".join(
        f'<rim:ExtrinsicObject id="Doc{i}" mimeType="{mime}" objectType="urn:uuid:7edca82f-054d-47f2-a032-'
        f'9b2a5b5186c1"><rim:Slot name="URI"><rim:ValueList><rim:Value>{uri}</rim:Value></rim:ValueList>'
        "</rim:Slot></rim:ExtrinsicObject>" for i, (uri, mime) in enumerate(uris))
    return ('<?xml version="1.0" encoding="UTF-8"?><lcm:SubmitObjectsRequest xmlns:lcm="urn:oasis:names:tc:'
            'ebxml-regrep:xsd:lcm:3.0" xmlns:rim="urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0">'
            f"<rim:RegistryObjectList>{objects}<rim:RegistryPackage id=\"SS\"/></rim:RegistryObjectList>"
            "</lcm:SubmitObjectsRequest>").encode()


def test_every_submission_set_of_a_package_is_read() -> None:
    """ITI TF-2b §3.32.4.1.4: a medium holds one folder per submission set under IHE_XDM/, each
    with its METADATA.XML. A hospital's package with two sets: both sets' documents are read,
    each knowing its set, with the MIME type its own metadata gives."""
    pdf = b"%PDF-1.4 lettre de liaison"
    data = _zip([("README.TXT", b"x"), ("INDEX.HTM", b"<html/>"),
                 ("IHE_XDM/SUBSET01/METADATA.XML", _other_producer_metadata(("DOC0001.XML", "text/xml"))),
                 ("IHE_XDM/SUBSET01/DOC0001.XML", CDA),
                 ("IHE_XDM/SUBSET02/METADATA.XML", _other_producer_metadata(("LETTRE.PDF", "application/pdf"))),
                 ("IHE_XDM/SUBSET02/LETTRE.PDF", pdf)])
    package = xdm.read_xdm(data, LIMITS)
    assert [(d.subset, d.name, d.mime_type) for d in package.documents] == [
        ("SUBSET01", "DOC0001.XML", "text/xml"), ("SUBSET02", "LETTRE.PDF", "application/pdf")]
    assert [s.name for s in package.subsets] == ["SUBSET01", "SUBSET02"]
    assert package.cda == [xdm.CdaFacts("11488-4", True)]
    # A restriction in the second set is seen as well as one in the first.
    masked = _other_producer_metadata(("LETTRE.PDF", "application/pdf")).replace(
        b"</rim:Slot></rim:ExtrinsicObject>",
        b'</rim:Slot><rim:Classification classificationScheme="urn:uuid:f4f85eac-e6cb-4883-b524-f2705394840f" '
        b'nodeRepresentation="MASQUE_PS"/></rim:ExtrinsicObject>')
    data = _zip([("IHE_XDM/SUBSET01/METADATA.XML", _other_producer_metadata(("DOC0001.XML", "text/xml"))),
                 ("IHE_XDM/SUBSET01/DOC0001.XML", CDA),
                 ("IHE_XDM/SUBSET02/METADATA.XML", masked), ("IHE_XDM/SUBSET02/LETTRE.PDF", pdf)])
    assert xdm.refused_for(xdm.read_xdm(data, LIMITS).confidentiality, patient=False) == "MASQUE_PS"


def test_backslash_paths_of_old_windows_tools_are_read() -> None:
    """APPNOTE.TXT §4.4.17.1: entry names use "/"; some old Windows tools wrote "\\". Such a
    package is read as if written with "/" (URI slots too), and the same hostile-path rules
    apply afterwards (see test_path_tricks_are_refused)."""
    data = _zip([("README.TXT", b"x"),
                 ("IHE_XDM\\SUBSET01\\METADATA.XML", _other_producer_metadata(("DOC0001.XML", "text/xml"),
                                                                              (".\\LETTRE.PDF", "application/pdf"))),
                 ("IHE_XDM\\SUBSET01\\DOC0001.XML", CDA), ("IHE_XDM\\SUBSET01\\LETTRE.PDF", b"%PDF-1.4 x")])
    package = xdm.read_xdm(data, LIMITS)
    assert package.subset == "SUBSET01"
    assert [(d.name, d.mime_type) for d in package.documents] == [("DOC0001.XML", "text/xml"),
                                                                   ("LETTRE.PDF", "application/pdf")]
    # The same entry written once with each separator is a duplicate, not two documents.
    twice = _zip([("IHE_XDM/S/METADATA.XML", META), ("IHE_XDM/S/A.XML", b"1"), ("IHE_XDM\\S\\A.XML", b"2")])
    assert _reason(twice) == "duplicate_entry"


def test_only_a_well_formed_matricule_counts_as_an_ins() -> None:
    """MSSanté Réf #2 ECO.2.4.2 (X-MSS-INS: O only with an INS) and Référentiel INS (the
    matricule is 15 characters: NIR or NIA and its key): an extension of another shape under an
    INS OID is not an INS, so neither X-MSS-INS nor the metadata claim one."""
    broken = CDA.replace(b'extension="277076322082910"', b'extension="12345"')
    assert xdm.cda_facts(broken) == xdm.CdaFacts("11488-4", False)
    meta = zipfile.ZipFile(io.BytesIO(xdm.build_xdm([xdm.XdmDocument("DOC0001.XML", "text/xml", broken)],
                                                    submitted=NOW))).read("IHE_XDM/SUBSET01/METADATA.XML")
    assert b"1.2.250.1.213.1.4.8" not in meta


def _masked_entry(uri: str) -> bytes:
    return _other_producer_metadata((uri, "application/pdf")).replace(
        b"</rim:Slot></rim:ExtrinsicObject>",
        b'</rim:Slot><rim:Classification classificationScheme="urn:uuid:f4f85eac-e6cb-4883-b524-f2705394840f" '
        b'nodeRepresentation="MASQUE_PS"/></rim:ExtrinsicObject>')


def test_documents_in_a_sub_folder_of_a_set_are_read_and_their_restrictions_apply() -> None:
    """ITI TF-2b §3.32.4.1.4 / ITI TF-3 §4.2.3.2.27: a document's URI is relative to its
    METADATA.XML and may name a sub-folder. Such a document is read, and its restriction
    (CI-SIS MetaDMPMSS: MASQUE_PS never to professionals) applies: before, it was skipped,
    and the package, kept as received, went to members with the masked document inside."""
    data = _zip([("IHE_XDM/SUBSET01/METADATA.XML", _masked_entry("DOCS/CR.PDF")),
                 ("IHE_XDM/SUBSET01/DOCS/CR.PDF", b"%PDF-1.4 x")])
    package = xdm.read_xdm(data, LIMITS)
    assert [(d.name, d.mime_type, d.confidentiality) for d in package.documents] == [
        ("DOCS-CR.PDF", "application/pdf", ("MASQUE_PS",))]
    assert xdm.refused_for(package.confidentiality, patient=False) == "MASQUE_PS"


def test_a_restriction_in_the_metadata_applies_even_if_its_file_is_missing() -> None:
    """A restricted entry whose URI names no file of the set (a producer's mistake, or a file
    hidden under another name) still restricts the package: the metadata is what a receiving
    system would file the package by."""
    data = _zip([("IHE_XDM/SUBSET01/METADATA.XML", _masked_entry("ABSENT.PDF")),
                 ("IHE_XDM/SUBSET01/OTHER.PDF", b"%PDF-1.4 x")])
    assert xdm.refused_for(xdm.read_xdm(data, LIMITS).confidentiality, patient=False) == "MASQUE_PS"


def test_a_restricted_cda_outside_every_set_still_restricts_the_package() -> None:
    """A CDA left in a folder without METADATA.XML is no document of the package, but it
    travels inside the archive the exchange keeps: its header's restriction applies."""
    masked = CDA.replace(b"<code ", b'<confidentialityCode code="MASQUE_PS" '
                                    b'codeSystem="1.2.250.1.213.1.1.4.13"/><code ')
    data = _zip([("IHE_XDM/SUBSET01/METADATA.XML", _other_producer_metadata(("DOC0001.XML", "text/xml"))),
                 ("IHE_XDM/SUBSET01/DOC0001.XML", CDA), ("IHE_XDM/SUBSET02/HIDDEN.XML", masked)])
    package = xdm.read_xdm(data, LIMITS)
    assert [d.name for d in package.documents] == ["DOC0001.XML"]
    assert xdm.refused_for(package.confidentiality, patient=False) == "MASQUE_PS"
