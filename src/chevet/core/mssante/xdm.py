"""IHE XDM packages (``IHE_XDM.zip``) for structured documents sent over MSSanté.

Layout: ``IHE_XDM/<SUBSET>/METADATA.XML`` (an ebRIM SubmitObjectsRequest: the submission set
and its document entries, see ``xds_metadata``), the documents next to it, and
``INDEX.HTM`` / ``README.TXT`` at the root (their presence is IHE practice; whether the
MSSanté référentiel requires them is unconfirmed, so the reader does not require them).

Reading treats the archive as hostile: limits on entry count, per-entry and total size,
compression ratio (zip bombs), and refusal of absolute paths, ``..``, drive letters, control
characters, symbolic links, encrypted entries and duplicate names. Backslashes written by old
Windows tools are read as separators before those checks. Sizes are enforced on the bytes
actually inflated, not on what the archive declares. Every submission set of a package is read,
not only the first.
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass
from datetime import datetime
from xml.etree import ElementTree as ET
from xml.sax.saxutils import escape

from chevet.core import untrusted_xml
from chevet.core.errors import InvalidInput
from chevet.core.mssante import xds_codes, xds_metadata
from chevet.core.mssante.patient import PatientIdentity
from chevet.core.mssante.xds_codes import confidentiality_code as confidentiality_code
from chevet.core.mssante.xds_metadata import XdsAuthor as XdsAuthor
from chevet.core.mssante.xds_metadata import XdsContext as XdsContext

XDM_NAME = "IHE_XDM.zip"

# Confidentiality (ebRIM classification ``confidentialityCode`` of each document). The French
# restriction codes (MetaDMPMSS: CI-SIS "transmission de document CDA") and their rules:
# MASQUE_PS never to professionals, INVISIBLE_PATIENT never to the patient,
# INVISIBLE_REP_LEGAUX never to the patient's legal representatives. Their coding scheme OID
# in XDS metadata is unconfirmed (the DMP's is used); readers match on the code alone.
CONFIDENTIALITY_SCHEME = xds_codes.DE_CONFIDENTIALITY
HL7_CONFIDENTIALITY = xds_codes.HL7_CONFIDENTIALITY
FRENCH_CONFIDENTIALITY = xds_codes.FRENCH_CONFIDENTIALITY
MASQUE_PS = "MASQUE_PS"
INVISIBLE_PATIENT = "INVISIBLE_PATIENT"
INVISIBLE_REP_LEGAUX = "INVISIBLE_REP_LEGAUX"
RESTRICTIONS = (MASQUE_PS, INVISIBLE_PATIENT, INVISIBLE_REP_LEGAUX)


def refused_for(codes: tuple[str, ...] | list[str], *, patient: bool) -> str | None:
    """The restriction that forbids sending a document to a recipient (a patient's Mon Espace
    Santé address, or a professional's), or None."""
    if patient and INVISIBLE_PATIENT in codes:
        return INVISIBLE_PATIENT
    if not patient and MASQUE_PS in codes:
        return MASQUE_PS
    return None


@dataclass(frozen=True, slots=True)
class XdmLimits:
    max_entries: int = 100
    max_entry_bytes: int = 20 * 1024 * 1024
    max_total_bytes: int = 50 * 1024 * 1024
    max_ratio: int = 100


class HostileArchive(InvalidInput):
    code = "xdm_refused"

    def __init__(self, reason: str) -> None:
        super().__init__("xdm_refused", reason=reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class XdmDocument:
    name: str           # path inside the subset folder, "/" written "-" (DOCS/CR.PDF: DOCS-CR.PDF)
    mime_type: str
    data: bytes
    confidentiality: tuple[str, ...] = ()   # "N", "R", "V", MASQUE_PS, INVISIBLE_PATIENT…
    subset: str = ""    # the submission set (folder under IHE_XDM/) it was read from


@dataclass(frozen=True, slots=True)
class CdaFacts:
    """What the X-MSS-* headers need from a CDA header, and its confidentiality code."""

    code: str | None
    ins_qualified: bool
    confidentiality: str | None = None


@dataclass(frozen=True, slots=True)
class XdmSubset:
    """One submission set of a package: ``IHE_XDM/<name>/`` and its ``METADATA.XML``."""

    name: str
    documents: tuple[XdmDocument, ...]
    metadata: bytes
    confidentiality: tuple[str, ...] = ()   # every code its metadata names


@dataclass(frozen=True, slots=True)
class XdmPackage:
    """Every document of a package (``documents``, all subsets together, each naming its
    ``subset``), the subsets themselves, and the first subset's name and metadata."""

    subset: str
    documents: tuple[XdmDocument, ...]
    metadata: bytes
    subsets: tuple[XdmSubset, ...] = ()
    other_confidentiality: tuple[str, ...] = ()   # of CDAs in the archive outside every set

    @property
    def cda(self) -> list[CdaFacts]:
        return [f for d in self.documents if (f := cda_facts(d.data)) is not None]

    @property
    def confidentiality(self) -> tuple[str, ...]:
        """Every confidentiality code of the package: its documents' and any its metadata names
        (a restricted entry whose file is missing or elsewhere still restricts the package)."""
        codes = [c for d in self.documents for c in d.confidentiality]
        codes += [c for s in self.subsets for c in s.confidentiality]
        return tuple(dict.fromkeys([*codes, *self.other_confidentiality]))


_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._()-]{0,120}$")


# How an XML document in UTF-16 or UTF-32 begins (with or without a byte order mark): such a
# document has no ASCII "ClinicalDocument" to look for, so it is parsed to be sure.
_WIDE_STARTS = (b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff", b"<\x00", b"\x00<", b"\x00\x00\x00<")


def cda_facts(data: bytes) -> CdaFacts | None:
    """The document's type code and whether a qualified INS identifies the patient; None if
    the document is not an HL7 CDA R2. ``untrusted_xml.UnsafeXml`` if it is XML that asks for
    a DTD, an entity or an inclusion: such a document is refused, not taken for "not a CDA"
    (which would let its confidentiality code go unread)."""
    if b"ClinicalDocument" not in data[:65536] and not data.startswith(_WIDE_STARTS):
        return None
    header = xds_metadata.cda_header(data)
    if header is None:
        return None
    conf = confidentiality_code(header.confidentiality[0]) if header.confidentiality else None
    return CdaFacts(header.type.code if header.type else None, header.ins is not None, conf)


def build_xdm(documents: list[XdmDocument], *, submitted: datetime, subset: str = "SUBSET01",
              patient: PatientIdentity | None = None, context: XdsContext | None = None) -> bytes:
    """An ``IHE_XDM.zip`` holding the documents and their XDS metadata (one submission set).
    ``patient``: the exchange's patient (its INS written only when qualified); ``context``: the
    author, sending mailbox, recipients and establishment codes (see ``xds_metadata``)."""
    if not documents:
        raise InvalidInput("xdm_empty")
    names = set()
    for d in documents:
        if not _SAFE_NAME.match(d.name) or d.name.upper() in ("METADATA.XML",) or d.name.upper() in names:
            raise InvalidInput("xdm_document_name")
        names.add(d.name.upper())
    if not _SAFE_SUBSET.match(subset):
        raise InvalidInput("xdm_document_name")
    metadata = xds_metadata.submission(documents, submitted=submitted, patient=patient, context=context)
    buf = io.BytesIO()
    when = submitted.timetuple()[:6]
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        def put(name: str, data: bytes) -> None:
            info = zipfile.ZipInfo(name, date_time=when)
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, data)

        readme, index = _media_texts(documents, subset, context)
        put("README.TXT", readme)
        put("INDEX.HTM", index)
        put(f"IHE_XDM/{subset}/METADATA.XML", metadata)
        for d in documents:
            put(f"IHE_XDM/{subset}/{d.name}", d.data)
    return buf.getvalue()


_SAFE_SUBSET = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


def _media_texts(documents: list[XdmDocument], subset: str, context: XdsContext | None) -> tuple[bytes, bytes]:
    """README.TXT and INDEX.HTM (ITI TF-2b §3.32.4.1.2.2): who made the package and with what,
    how it is organised, a link to each document; in French, for the person who opens it."""
    sender = context.author.institution if context and context.author and context.author.institution else ""
    address = context.sender if context else ""
    who = "".join(f"{label} : {value}\r\n" for label, value in (("Établissement", sender), ("Messagerie", address))
                  if value)
    readme = (f"Paquet IHE XDM (documents de santé échangés par MSSanté)\r\n\r\n{who}"
              "Application : Chevet (messagerie sécurisée de santé)\r\n\r\n"
              f"Les documents sont dans IHE_XDM/{subset}/, décrits par METADATA.XML (métadonnées IHE XDS).\r\n"
              "INDEX.HTM les liste.\r\n")
    items = "".join(f'<li><a href="IHE_XDM/{subset}/{escape(d.name)}">{escape(d.name)}</a></li>' for d in documents)
    index = ('<!DOCTYPE html><html lang="fr"><head><meta charset="utf-8" /><title>Documents IHE XDM</title></head>'
             f'<body><h1>Documents</h1><ul>{items}</ul><p><a href="README.TXT">À propos de ce paquet</a></p>'
             "</body></html>")
    return readme.encode(), index.encode()


def _entry_name(name: str) -> str:
    """An archive entry's path with "/" separators. Old Windows tools write backslashes
    (APPNOTE 4.4.17 wants "/"): they are read as separators, then the path is checked as any
    other: no absolute path (``/x``, ``\\x``, ``\\\\server\\share``), no drive letter
    (``C:``), no ``.`` or ``..`` part, no empty part, no control character."""
    if not name or len(name) > 255 or "\x00" in name or any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise HostileArchive("path")
    path = name.replace("\\", "/")
    if path.startswith("/") or re.match(r"^[A-Za-z]:", path) or ":" in path:
        raise HostileArchive("path")
    parts = path.split("/")
    if any(p in ("..", ".") for p in parts) or any(p == "" for p in parts[:-1]):
        raise HostileArchive("path")
    return path


def read_xdm(data: bytes, limits: XdmLimits | None = None) -> XdmPackage:
    """The documents of every submission set of an ``IHE_XDM.zip`` (each ``IHE_XDM/<subset>/``
    with its ``METADATA.XML``, ITI TF-2b §3.32.4.1.4), or ``HostileArchive`` / ``InvalidInput``."""
    limits = limits or XdmLimits()
    try:
        z = zipfile.ZipFile(io.BytesIO(data))
        infos = z.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, OSError) as exc:
        raise HostileArchive("not_a_zip") from exc
    if len(infos) > limits.max_entries:
        raise HostileArchive("too_many_entries")
    seen: set[str] = set()
    paths: dict[int, str] = {}
    declared = 0
    for i, info in enumerate(infos):
        path = _entry_name(info.filename)
        paths[i] = path
        if path.lower() in seen:
            raise HostileArchive("duplicate_entry")
        seen.add(path.lower())
        if info.flag_bits & 0x1:
            raise HostileArchive("encrypted_entry")
        if (info.external_attr >> 16) & 0o170000 == 0o120000:
            raise HostileArchive("symlink")
        if info.file_size > limits.max_entry_bytes:
            raise HostileArchive("entry_too_large")
        declared += info.file_size
        if declared > limits.max_total_bytes:
            raise HostileArchive("total_too_large")
        if info.compress_size and info.file_size / info.compress_size > limits.max_ratio:
            raise HostileArchive("compression_ratio")
    contents: dict[str, bytes] = {}
    total = 0
    for i, info in enumerate(infos):
        if paths[i].endswith("/"):
            continue
        chunks = []
        size = 0
        try:
            with z.open(info) as f:
                while chunk := f.read(65536):
                    size += len(chunk)
                    total += len(chunk)
                    if size > limits.max_entry_bytes or size > max(info.file_size, 0) + 0:
                        raise HostileArchive("entry_too_large")
                    if total > limits.max_total_bytes:
                        raise HostileArchive("total_too_large")
                    if info.compress_size and size / info.compress_size > limits.max_ratio:
                        raise HostileArchive("compression_ratio")
                    chunks.append(chunk)
        except HostileArchive:
            raise
        except (zipfile.BadZipFile, NotImplementedError, OSError, EOFError, ValueError, RuntimeError) as exc:
            raise HostileArchive("corrupt_entry") from exc
        contents[paths[i]] = b"".join(chunks)
    metadata_names = sorted(n for n in contents if re.fullmatch(r"IHE_XDM/[^/]+/METADATA\.XML", n, re.I))
    if not metadata_names:
        raise HostileArchive("no_metadata")
    subsets = tuple(_subset(meta_name, contents) for meta_name in metadata_names)
    # A CDA outside every set (no METADATA.XML next to it) is not a document of the package, but
    # it travels inside the archive as kept: its confidentiality code restricts the package.
    in_sets = tuple(m.rsplit("/", 1)[0] + "/" for m in metadata_names)
    loose: list[str] = []
    for path, body in sorted(contents.items()):
        if path.startswith(in_sets):
            continue
        try:
            facts = cda_facts(body)
        except untrusted_xml.UnsafeXml as exc:
            raise HostileArchive(f"xml_{exc.reason}") from exc
        if facts is not None and facts.confidentiality:
            loose.append(facts.confidentiality)
    return XdmPackage(subsets[0].name, tuple(d for s in subsets for d in s.documents), subsets[0].metadata, subsets,
                      tuple(dict.fromkeys(loose)))


def _subset(meta_name: str, contents: dict[str, bytes]) -> XdmSubset:
    """One submission set: the documents under its folder (next to METADATA.XML or in a
    sub-folder, as a URI relative to it may say), with their MIME types and confidentiality
    codes from it (and from each CDA header)."""
    subset_dir = meta_name.rsplit("/", 1)[0]
    name = subset_dir.split("/", 1)[1]
    try:
        meta_root = untrusted_xml.parse(contents[meta_name])
    except untrusted_xml.UnsafeXml as exc:
        raise HostileArchive("metadata_unreadable" if exc.reason == "unreadable" else f"xml_{exc.reason}") from exc
    uri_types, all_codes = _uris(meta_root)
    docs = []
    for path, body in sorted(contents.items()):
        if not path.startswith(subset_dir + "/") or path == meta_name:
            continue
        relative = path[len(subset_dir) + 1:]
        leaf = relative.rsplit("/", 1)[-1]
        mime_type, codes = uri_types.get(relative.lower()) or uri_types.get(leaf.lower()) \
            or ("application/octet-stream", ())
        try:
            facts = cda_facts(body)
        except untrusted_xml.UnsafeXml as exc:
            raise HostileArchive(f"xml_{exc.reason}") from exc
        if facts is not None and facts.confidentiality and facts.confidentiality not in codes:
            codes = (*codes, facts.confidentiality)
        docs.append(XdmDocument(relative.replace("/", "-"), mime_type, body, codes, name))
    return XdmSubset(name, tuple(docs), contents[meta_name], all_codes)


def _uris(root: ET.Element) -> tuple[dict[str, tuple[str, tuple[str, ...]]], tuple[str, ...]]:
    """Each document's (MIME type, confidentiality codes), by its URI relative to the subset
    folder and by its last part (lower case, backslashes read as "/"); and every
    confidentiality code the metadata names, whether or not its URI matches a file."""
    out: dict[str, tuple[str, tuple[str, ...]]] = {}
    every: list[str] = []
    for obj in root.iter():
        if obj.tag.endswith("ExtrinsicObject"):
            mime = obj.get("mimeType") or "application/octet-stream"
            uri = None
            codes: list[str] = []
            for child in obj:
                if child.tag.endswith("Slot") and child.get("name") == "URI":
                    values = [v.text for v in child.iter() if v.tag.endswith("Value") and v.text]
                    uri = "".join(values).strip().replace("\\", "/") if values else None
                elif child.tag.endswith("Classification") \
                        and child.get("classificationScheme") == CONFIDENTIALITY_SCHEME:
                    code = confidentiality_code(child.get("nodeRepresentation"))
                    if code and code not in codes:
                        codes.append(code)
            every.extend(codes)
            if uri:
                while uri.startswith("./"):
                    uri = uri[2:]
                value = (mime[:100], tuple(codes[:10]))
                out.setdefault(uri.lower(), value)
                out.setdefault(uri.rsplit("/", 1)[-1].lower(), value)
    return out, tuple(dict.fromkeys(every))
