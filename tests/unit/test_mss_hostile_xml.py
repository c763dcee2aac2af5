"""Hostile XML from outside (an MSSanté METADATA.XML, an HL7 CDA document) in every encoding a
parser may be handed: each document of the corpus is refused, nothing is expanded, nothing is
fetched. The corpus is generated here: every payload (internal, external and parameter
entities, billion laughs, external DTD, XInclude) in UTF-8, UTF-16 LE/BE and UTF-32 LE/BE,
with and without a byte order mark, with no XML declaration, an honest one, and one that lies
about the encoding."""

from __future__ import annotations

import codecs
import http.server
import io
import threading
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import ClassVar

import pytest

from chevet.core import untrusted_xml
from chevet.core.mssante import xdm

CDA_OPEN = '<ClinicalDocument xmlns="urn:hl7-org:v3">'
CDA_CLOSE = '<code code="11488-4"/></ClinicalDocument>'


class _Listener(http.server.BaseHTTPRequestHandler):
    hits: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        type(self).hits.append(self.path)
        body = b'<!ENTITY leak "FETCHED">' if self.path.endswith(".dtd") else b"FETCHED"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture(scope="module")
def origin() -> Iterator[str]:
    """A real HTTP server on loopback that counts what a parser would fetch from it."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Listener)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def payloads(origin: str) -> dict[str, str]:
    """Each attack as a document (without XML declaration); all would put "EXPANDED" or
    "FETCHED" into the tree if the parser obeyed them."""
    laughs = '<!ENTITY lol "EXPANDED">' + "".join(
        f'<!ENTITY lol{i} "{("&lol;" if i == 1 else f"&lol{i - 1};") * 10}">' for i in range(1, 10))
    return {
        "internal_entity": f'<!DOCTYPE ClinicalDocument [<!ENTITY e "EXPANDED">]>'
                           f"{CDA_OPEN}<title>&e;</title>{CDA_CLOSE}",
        "external_entity": f'<!DOCTYPE ClinicalDocument [<!ENTITY e SYSTEM "{origin}/entity">]>'
                           f"{CDA_OPEN}<title>&e;</title>{CDA_CLOSE}",
        "local_file_entity": '<!DOCTYPE ClinicalDocument [<!ENTITY e SYSTEM "file:///etc/hostname">]>'
                             f"{CDA_OPEN}<title>&e;</title>{CDA_CLOSE}",
        "parameter_entity": f'<!DOCTYPE ClinicalDocument [<!ENTITY % p SYSTEM "{origin}/param.dtd"> %p;]>'
                            f"{CDA_OPEN}<title>&leak;</title>{CDA_CLOSE}",
        "billion_laughs": f"<!DOCTYPE ClinicalDocument [{laughs}]>{CDA_OPEN}<title>&lol9;</title>{CDA_CLOSE}",
        "external_dtd": f'<!DOCTYPE ClinicalDocument SYSTEM "{origin}/external.dtd">{CDA_OPEN}<title>&leak;</title>'
                        f"{CDA_CLOSE}",
        "public_dtd": f'<!DOCTYPE ClinicalDocument PUBLIC "-//X//DTD X//EN" "{origin}/public.dtd">{CDA_OPEN}'
                      f"{CDA_CLOSE}",
        "xinclude": f'{CDA_OPEN[:-1]} xmlns:xi="http://www.w3.org/2001/XInclude"><title>'
                    f'<xi:include href="{origin}/xinclude" parse="text"/></title>{CDA_CLOSE}',
    }


ENCODINGS = {   # name: (codec without BOM, BOM)
    "utf-8": ("utf-8", codecs.BOM_UTF8),
    "utf-16-le": ("utf-16-le", codecs.BOM_UTF16_LE),
    "utf-16-be": ("utf-16-be", codecs.BOM_UTF16_BE),
    "utf-32-le": ("utf-32-le", codecs.BOM_UTF32_LE),
    "utf-32-be": ("utf-32-be", codecs.BOM_UTF32_BE),
}
DECLARATIONS = {   # what the XML declaration says, given the real encoding
    "none": lambda real: "",
    "honest": lambda real: f'<?xml version="1.0" encoding="{real.upper()[:6]}"?>',
    "lying_utf8": lambda real: '<?xml version="1.0" encoding="UTF-8"?>',
    "lying_utf16": lambda real: '<?xml version="1.0" encoding="UTF-16"?>',
    "lying_latin1": lambda real: '<?xml version="1.0" encoding="ISO-8859-1"?>',
}


def corpus(origin: str) -> Iterator[tuple[str, bytes]]:
    for attack, doc in payloads(origin).items():
        for enc, (codec, bom) in ENCODINGS.items():
            for decl, say in DECLARATIONS.items():
                text = say(enc) + doc
                for with_bom in (False, True):
                    data = (bom if with_bom else b"") + text.encode(codec)
                    yield f"{attack}/{enc}{'+bom' if with_bom else ''}/{decl}", data


def _package(metadata: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("IHE_XDM/SUBSET01/METADATA.XML", metadata)
        z.writestr("IHE_XDM/SUBSET01/DOC0001.XML", f'<?xml version="1.0"?>{CDA_OPEN}{CDA_CLOSE}')
    return buf.getvalue()


def _expanded(root: object) -> bool:
    text = "".join(getattr(root, "itertext", lambda: iter(()))())
    return "EXPANDED" in text or "FETCHED" in text


def test_every_hostile_document_is_refused_whatever_its_encoding(origin: str) -> None:
    _Listener.hits.clear()
    refused: dict[str, int] = {}
    items = list(corpus(origin))
    assert len(items) == 8 * 5 * 5 * 2
    for name, data in items:
        with pytest.raises(untrusted_xml.UnsafeXml) as caught:
            root = untrusted_xml.parse(data)
            assert not _expanded(root), name
        refused[caught.value.reason] = refused.get(caught.value.reason, 0) + 1
        # As a METADATA.XML: the package is refused (the mail is quarantined by the caller).
        with pytest.raises(xdm.HostileArchive):
            xdm.read_xdm(_package(data))
        # As a CDA document: refused, or (an encoding expat cannot read) not a CDA at all;
        # never read for its facts.
        try:
            assert xdm.cda_facts(data) is None, name
        except untrusted_xml.UnsafeXml:
            pass
    assert _Listener.hits == []
    # The refusal comes from the parser after decoding, not from a byte pattern: documents
    # in UTF-16 are refused for their DTD, as in UTF-8.
    assert refused["dtd"] > 0 and refused["xinclude"] > 0


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-le", "utf-16-be"])
def test_the_reported_utf16_metadata_is_refused_for_its_dtd(codec: str, origin: str) -> None:
    """The reported case: a METADATA.XML in UTF-16 with a DOCTYPE and an entity (its bytes hold
    no ASCII "<!DOCTYPE" or "<!ENTITY") used to pass the guard and have its entity expanded."""
    doc = ('<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE r [<!ENTITY e "EXPANDED">]>'
           '<SubmitObjectsRequest><v>&e;</v></SubmitObjectsRequest>').encode(codec)
    assert b"<!DOCTYPE" not in doc.upper() and b"<!ENTITY" not in doc.upper()
    with pytest.raises(xdm.HostileArchive) as refused:
        xdm.read_xdm(_package(doc))
    assert refused.value.reason == "xml_dtd"


def test_honest_documents_in_utf16_and_latin1_are_still_read() -> None:
    cda = (f'<?xml version="1.0" encoding="UTF-16"?>{CDA_OPEN}<id root="1.2.250.1.213.1.4.8"/>{CDA_CLOSE}')
    for data in (cda.encode("utf-16"), codecs.BOM_UTF16_LE + cda.encode("utf-16-le")):
        assert xdm.cda_facts(data) == xdm.CdaFacts("11488-4", False, None)
    latin = f'<?xml version="1.0" encoding="ISO-8859-1"?>{CDA_OPEN}<title>Séjour</title>{CDA_CLOSE}'
    assert untrusted_xml.parse(latin.encode("latin-1")).find("{urn:hl7-org:v3}title").text == "Séjour"  # type: ignore[union-attr]
    package = xdm.build_xdm([xdm.XdmDocument("DOC0001.XML", "text/xml", cda.encode("utf-16"))],
                            submitted=datetime(2026, 1, 1, tzinfo=UTC))
    assert [d.name for d in xdm.read_xdm(package).documents] == ["DOC0001.XML"]
