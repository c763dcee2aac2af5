"""Message Disposition Notifications (RFC 8098) in a ``multipart/report`` (RFC 6522).

Structure required by the ANS (volet « Transmission au LPS de documents CDA provenant d'un
courriel MSSanté » v1.1.3, « Structure du MDN »): a ``multipart/report`` at the top of the
message (RFC 6522 §3), with (1) a human-readable ``text/plain``, (2) the
``message/disposition-notification`` fields (``Final-Recipient`` and ``Disposition``, plus
``Original-Message-ID``, ``Original-Recipient`` and ``Reporting-UA``), (3) the original message,
whole, as ``message/rfc822``: its ``IHE_XDM.zip`` and PDF travel there, once.

An error is ``processed/error`` with the diagnostic in its own ``Error:`` field
(RFC 8098 §3.2.6–3.2.7), ``<code>^<libellé>``; the form of the guide's earlier versions,
``processed/Error: <code>^<libellé>`` in the Disposition field, is still read.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from email import policy as email_policy
from email.message import EmailMessage, Message
from email.parser import BytesHeaderParser, HeaderParser
from enum import StrEnum

from chevet.core.mssante.address import message_ids
from chevet.core.mssante.mail import Attachment, MalformedMail

_LINE = re.compile(r"\r?\n")


class DispositionType(StrEnum):
    DISPLAYED = "displayed"
    DISPATCHED = "dispatched"
    PROCESSED = "processed"
    DELETED = "deleted"


@dataclass(frozen=True, slots=True)
class Disposition:
    type: DispositionType
    automatic: bool = True
    error_code: str | None = None
    error_label: str | None = None
    original_message_id: str | None = None   # filled when parsed
    final_recipient: str | None = None
    sent_manually: bool | None = None        # default: as ``automatic`` says (RFC 8098 §3.2.6.2)

    @property
    def failed(self) -> bool:
        return self.error_code is not None

    def field(self) -> str:
        """``automatic-action`` or ``manual-action`` (what caused the disposition: a reader
        displaying the message is manual), then ``MDN-sent-automatically`` or ``-manually``
        (whether the reader agreed to send this receipt)."""
        manually = (not self.automatic) if self.sent_manually is None else self.sent_manually
        mode = ("automatic-action" if self.automatic else "manual-action") + (
            "/MDN-sent-manually" if manually else "/MDN-sent-automatically")
        return f"{mode}; {self.type.value}" + ("/error" if self.error_code else "")

    def error_field(self) -> str | None:
        """The ``Error:`` field's value (RFC 8098 §3.2.7): ``<code>^<libellé>``, one line, US-ASCII
        (the fields of message/disposition-notification are 7-bit, RFC 8098 §3.1): accents are
        dropped here, the human-readable part keeps them."""
        if not self.error_code:
            return None
        label = re.sub(r"[\r\n]+", " ", self.error_label or "")[:200]
        label = unicodedata.normalize("NFKD", label).encode("ascii", "ignore").decode()
        return f"{self.error_code}^{label}"


def build_report(*, original_message_id: str, original_recipient: str, final_recipient: str, reporting_ua: str,
                 disposition: Disposition, human_text: str, original_raw: bytes,
                 reattach: list[Attachment] | tuple[()] = ()) -> bytes:
    """The report entity. ``reattach``: documents attached again after the original, as the
    guide's versions before 1.1.3 asked; the current version carries them once, inside the
    original (``message/rfc822``), and that is what the gateway sends."""
    report = EmailMessage(policy=email_policy.SMTP)
    report.set_type("multipart/report")
    report.set_param("report-type", "disposition-notification")
    text = EmailMessage(policy=email_policy.SMTP)
    text.set_content(human_text, subtype="plain", charset="utf-8", cte="quoted-printable")
    del text["MIME-Version"]
    fields = (f"Reporting-UA: {reporting_ua}\r\n"
              f"Original-Recipient: rfc822;{original_recipient}\r\n"
              f"Final-Recipient: rfc822;{final_recipient}\r\n"
              f"Original-Message-ID: <{original_message_id}>\r\n"
              f"Disposition: {disposition.field()}\r\n")
    if (error := disposition.error_field()) is not None:
        fields += f"Error: {error}\r\n"
    notification = EmailMessage(policy=email_policy.SMTP)
    notification["Content-Type"] = "message/disposition-notification"
    notification["Content-Transfer-Encoding"] = "7bit"
    notification.set_payload(fields)
    original = EmailMessage(policy=email_policy.SMTP)
    original["Content-Type"] = "message/rfc822"
    original["Content-Transfer-Encoding"] = "base64" if _needs_base64(original_raw) else "7bit"
    original.set_payload(_b64(original_raw) if _needs_base64(original_raw) else original_raw.decode("ascii"))
    parts: list[Message | str] = [text, notification, original]
    for a in reattach:
        p = EmailMessage(policy=email_policy.SMTP)
        maintype, _, subtype = a.content_type.partition("/")
        p.set_content(a.data, maintype=maintype, subtype=subtype, filename=a.filename)
        del p["MIME-Version"]
        parts.append(p)
    report.set_payload(parts)
    report.set_boundary("=_chevet_mdn_" + hashlib.sha256(original_message_id.encode()).hexdigest()[:24])
    del report["MIME-Version"]
    return report.as_bytes(policy=email_policy.SMTP)


def original_recipient(raw: bytes) -> str | None:
    """The address of the received mail's ``Original-Recipient`` header, as its MTA wrote it
    (``rfc822;addr``), when there is exactly one: RFC 8098 §3.2.3 takes the MDN's field from it."""
    head = raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0][:65536]
    values = BytesHeaderParser(policy=email_policy.compat32).parsebytes(head).get_all("Original-Recipient") or []
    if len(values) != 1:
        return None
    kind, _, address = str(values[0]).partition(";")
    address = re.sub(r"\s+", "", address).lower()
    if kind.strip().lower() != "rfc822" or address.count("@") != 1 or len(address) > 254:
        return None
    return address


def _needs_base64(raw: bytes) -> bool:
    return any(b > 127 for b in raw) or any(len(line) > 990 for line in raw.split(b"\r\n"))


def _b64(raw: bytes) -> str:
    import base64

    enc = base64.b64encode(raw).decode()
    return "\r\n".join(enc[i:i + 76] for i in range(0, len(enc), 76))


_DISPOSITION = re.compile(
    r"^\s*(?P<action>[a-z-]+)/(?P<sending>[a-z-]+)\s*;\s*(?P<type>displayed|dispatched|processed|deleted)"
    r"(?:\s*/\s*(?P<mod>[^\r\n]*))?\s*$", re.I)


def parse_disposition(value: str) -> Disposition | None:
    m = _DISPOSITION.match(value or "")
    if not m:
        return None
    code = label = None
    mod = (m.group("mod") or "").strip()
    if mod.lower().startswith("error"):
        code, label = _error_detail(mod.split(":", 1)[1] if ":" in mod else "")
    return Disposition(DispositionType(m.group("type").lower()), automatic=m.group("action").lower().startswith(
        "automatic"), error_code=code, error_label=label)


def _error_detail(detail: str) -> tuple[str, str | None]:
    code, _, label = detail.strip().partition("^")
    return code.strip()[:20] or "error", label.strip()[:200] or None


def _fields_text(part: Message) -> str:
    payload = part.get_payload()
    if isinstance(payload, list):
        return "\n".join(f"{k}: {v}" for block in payload if isinstance(block, Message) for k, v in block.items())
    data = part.get_payload(decode=True)
    return data.decode("utf-8", "replace") if isinstance(data, bytes) else str(payload)


def parse_report(report: Message) -> tuple[Disposition | None, str]:
    """The disposition (None when the report is unusable) and the human-readable text."""
    parts = report.get_payload()
    if not isinstance(parts, list) or len(parts) < 2:
        raise MalformedMail("mdn_structure")
    human = ""
    fields_part = None
    for p in parts[:20]:
        if not isinstance(p, Message):
            continue
        ctype = p.get_content_type()
        if ctype == "text/plain" and not human:
            data = p.get_payload(decode=True)
            human = data.decode(p.get_content_charset() or "utf-8", "replace") if isinstance(data, bytes) else ""
        elif ctype == "message/disposition-notification" and fields_part is None:
            fields_part = p
    if fields_part is None:
        raise MalformedMail("mdn_structure")
    fields = HeaderParser(policy=email_policy.compat32).parsestr(_fields_text(fields_part)[:20000] + "\n\n")
    disposition = parse_disposition(str(fields.get("Disposition", "")))
    if disposition is None:
        raise MalformedMail("mdn_disposition")
    if disposition.failed and (error := str(fields.get("Error", "")).strip()):
        code, label = _error_detail(error)   # RFC 8098 §3.2.7: the diagnostic has its own field
        disposition = Disposition(disposition.type, disposition.automatic, code, label)
    originals = message_ids(str(fields.get("Original-Message-ID", "")))
    final = str(fields.get("Final-Recipient", "")).split(";", 1)[-1].strip().lower()[:254] or None
    return (Disposition(disposition.type, disposition.automatic, disposition.error_code, disposition.error_label,
                        originals[0] if originals else None, final), human)


@dataclass(frozen=True, slots=True)
class IntegrationError:
    """Why a received document could not be integrated, as the error receipt says it: the code
    of HL7 table 0357 (messageErrorCondition) or of the French application codes the ANS guide
    uses (902: unknown patient), and its label, in French (it is read by another system's staff)."""

    code: str
    label: str

    def disposition(self) -> Disposition:
        return Disposition(DispositionType.PROCESSED, error_code=self.code, error_label=self.label)


UNKNOWN_PATIENT = IntegrationError("902", "Identifiant de patient inconnu")
DATA_TYPE_ERROR = IntegrationError("102", "Document illisible ou de type refusé")
APPLICATION_ERROR = IntegrationError("207", "Erreur interne de l'application réceptrice")
_BY_REASON = {
    "xdm_masked_for_professionals": IntegrationError("207", "Document masqué aux professionnels : non intégré"),
    "attachment_type_refused": DATA_TYPE_ERROR,
    "attachment_infected": IntegrationError("207", "Pièce jointe refusée par l'antivirus"),
    "mss_patient_unknown": UNKNOWN_PATIENT,
}


def integration_error(reason: str) -> IntegrationError:
    """The receipt's error for one of the gateway's quarantine reasons (hostile packages and
    unreadable documents are data-type errors; what else the gateway refuses, application errors)."""
    if reason in _BY_REASON:
        return _BY_REASON[reason]
    if reason.startswith(("xdm_", "xml_", "pdf_")):
        return DATA_TYPE_ERROR
    return APPLICATION_ERROR
