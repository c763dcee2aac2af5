"""MSSanté messages as MIME: outbound building (headers, S/MIME wrapping) and inbound parsing.

Outbound, the readable content (text + attachments) is one MIME entity in canonical CRLF form;
it is signed as those exact bytes (``multipart/signed``), then optionally encrypted
(``application/pkcs7-mime; smime-type=enveloped-data``), and the transport headers (From, To,
Message-ID, ``X-MSS-*``, ``Disposition-Notification-To``) are put on top. The content is 7-bit
(quoted-printable text, base64 attachments) so no relay can alter signed bytes.

Inbound, everything from outside is hostile: the parser enforces size, depth and part limits,
never raises anything but ``MalformedMail`` (with a reason code for the quarantine), and
verifies signatures over the raw bytes as received, not over a re-serialised copy.
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy as email_policy
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import format_datetime, getaddresses, parsedate_to_datetime

from cryptography import x509

from chevet.core.errors import InvalidInput
from chevet.core.mssante import dsn, smime
from chevet.core.mssante.address import clean_address, message_ids
from chevet.core.mssante.mail import Attachment as Attachment  # re-exported: callers meet them here
from chevet.core.mssante.mail import MalformedMail as MalformedMail
from chevet.core.mssante.mdn import Disposition, build_report, original_recipient, parse_report
from chevet.core.mssante.revocation import RevocationPolicy

MAX_PARTS = 200
MAX_DEPTH = 12
MAX_SUBJECT = 998
_CRLF = re.compile(rb"\r?\n")
_TAGS = re.compile(r"<[^>]{0,2000}>")


@dataclass(frozen=True, slots=True)
class Envelope:
    """The transport headers of one outbound message."""

    sender: str
    recipients: tuple[str, ...]
    subject: str
    message_id: str                      # without angle brackets
    date: datetime
    nil: str                             # X-MSS-NIL, on every message
    sender_name: str | None = None
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    request_mdn: bool = False
    cda_codes: tuple[str, ...] = ()      # X-MSS-CODECDA when a CDA travels in an IHE_XDM.zip
    ins_qualified: bool | None = None    # X-MSS-INS (None: no CDA, header omitted)
    patient_replies_blocked: bool = False  # X-MSS-MES: FIN


def canonical(data: bytes) -> bytes:
    """CRLF line endings, as S/MIME signs them."""
    return _CRLF.sub(b"\r\n", data)


def build_content(text: str, attachments: tuple[Attachment, ...] | list[Attachment] = ()) -> bytes:
    """The readable entity: text, then each attachment, 7-bit encoded, CRLF."""
    part = EmailMessage(policy=email_policy.SMTP)
    part.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
    for a in attachments:
        maintype, _, subtype = a.content_type.partition("/")
        part.add_attachment(a.data, maintype=maintype or "application", subtype=subtype or "octet-stream",
                            filename=a.filename)
    del part["MIME-Version"]
    return canonical(part.as_bytes(policy=email_policy.SMTP))


def _boundary(seed: bytes, label: str) -> str:
    return f"=_chevet_{label}_{hashlib.sha256(seed).hexdigest()[:24]}"


def _b64_lines(data: bytes) -> bytes:
    encoded = base64.b64encode(data)
    return b"\r\n".join(encoded[i:i + 76] for i in range(0, len(encoded), 76))


def sign_entity(content: bytes, identity: smime.SigningIdentity) -> bytes:
    """``multipart/signed`` around exactly ``content``."""
    content = canonical(content)
    signature = smime.sign_detached(content, identity)
    boundary = _boundary(content, "s").encode()
    return (b'Content-Type: multipart/signed; protocol="application/pkcs7-signature"; micalg=sha-256;\r\n'
            b' boundary="' + boundary + b'"\r\n\r\n'
            b"This is a cryptographically signed message in MIME format.\r\n\r\n"
            b"--" + boundary + b"\r\n" + content + b"\r\n--" + boundary + b"\r\n"
            b'Content-Type: application/pkcs7-signature; name="smime.p7s"\r\n'
            b"Content-Transfer-Encoding: base64\r\n"
            b'Content-Disposition: attachment; filename="smime.p7s"\r\n\r\n'
            + _b64_lines(signature) + b"\r\n--" + boundary + b"--\r\n")


def encrypt_entity(entity: bytes, recipients: list[x509.Certificate]) -> bytes:
    der = smime.encrypt(canonical(entity), recipients)
    return (b'Content-Type: application/pkcs7-mime; smime-type=enveloped-data; name="smime.p7m"\r\n'
            b"Content-Transfer-Encoding: base64\r\n"
            b'Content-Disposition: attachment; filename="smime.p7m"\r\n\r\n' + _b64_lines(der) + b"\r\n")


def header_block(env: Envelope) -> bytes:
    h = EmailMessage(policy=email_policy.SMTP)
    h["From"] = f'"{env.sender_name}" <{env.sender}>' if env.sender_name else env.sender
    h["To"] = ", ".join(env.recipients)
    h["Subject"] = env.subject[:MAX_SUBJECT]
    h["Date"] = format_datetime(env.date.astimezone(UTC))
    h["Message-ID"] = f"<{env.message_id}>"
    if env.in_reply_to:
        h["In-Reply-To"] = f"<{env.in_reply_to}>"
    if env.references:
        h["References"] = " ".join(f"<{r}>" for r in env.references[-20:])
    h["MIME-Version"] = "1.0"
    h["X-MSS-NIL"] = env.nil
    if env.cda_codes:
        h["X-MSS-CODECDA"] = ",".join(env.cda_codes)
    if env.ins_qualified is not None:
        h["X-MSS-INS"] = "O" if env.ins_qualified else "N"
    if env.patient_replies_blocked:
        h["X-MSS-MES"] = "FIN"
    if env.request_mdn:
        h["Disposition-Notification-To"] = env.sender
    return canonical(h.as_bytes(policy=email_policy.SMTP)).rstrip(b"\r\n") + b"\r\n"


def assemble(env: Envelope, content: bytes, identity: smime.SigningIdentity | None,
             recipient_certs: list[x509.Certificate] | None = None) -> bytes:
    """The complete RFC 5322 message, ready for SMTP: signed when an identity is configured,
    encrypted when every recipient's certificate is known."""
    entity = sign_entity(content, identity) if identity is not None else canonical(content)
    if recipient_certs:
        entity = encrypt_entity(entity, recipient_certs)
    return header_block(env) + entity


# --- inbound ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InboundMail:
    message_id: str
    sender: str
    recipients: tuple[str, ...]
    subject: str
    date: datetime | None
    in_reply_to: tuple[str, ...]
    references: tuple[str, ...]
    text: str
    attachments: tuple[Attachment, ...]
    signature: smime.SignatureCheck
    encrypted: bool
    mdn_to: str | None                   # Disposition-Notification-To, when an MDN is requested
    return_path: str | None
    mss_headers: dict[str, str] = field(default_factory=dict)
    disposition: Disposition | None = None   # set when the mail is itself an MDN
    delivery: dsn.DeliveryReport | None = None   # set when the mail is a DSN (bounce)

    @property
    def thread_ids(self) -> list[str]:
        """Message-IDs this mail answers, nearest first."""
        return list(dict.fromkeys([*self.in_reply_to, *reversed(self.references)]))


Decryptor = Callable[[bytes], bytes]


def _split_entity(raw: bytes) -> tuple[bytes, bytes]:
    idx = raw.find(b"\r\n\r\n")
    if idx < 0:
        return raw, b""
    return raw[:idx + 2], raw[idx + 4:]


def signed_parts(entity: bytes, boundary: str) -> tuple[bytes, bytes]:
    """The first part of a ``multipart/signed`` entity exactly as received (CRLF), and the
    second (signature) part's entity."""
    _, body = _split_entity(entity)
    delimiter = b"\r\n--" + boundary.encode("ascii", "strict")
    body = b"\r\n" + body
    starts: list[int] = []
    pos = 0
    while len(starts) < 3:
        i = body.find(delimiter, pos)
        if i < 0:
            break
        starts.append(i)
        pos = i + len(delimiter)
    if len(starts) < 3:
        raise MalformedMail("signed_structure")
    first_line_end = body.find(b"\r\n", starts[0] + len(delimiter))
    second_line_end = body.find(b"\r\n", starts[1] + len(delimiter))
    if first_line_end < 0 or second_line_end < 0:
        raise MalformedMail("signed_structure")
    return body[first_line_end + 2:starts[1]], body[second_line_end + 2:starts[2]]


_PARSER = BytesParser(policy=email_policy.default)


def _parse(raw: bytes) -> EmailMessage:
    msg = _PARSER.parsebytes(raw)
    if not isinstance(msg, EmailMessage):  # pragma: no cover - the policy makes EmailMessage
        raise MalformedMail("unparseable")
    return msg


def _header(msg: Message, name: str) -> str | None:
    try:
        value = msg.get(name)
    except (ValueError, TypeError, IndexError, AttributeError):
        return None
    return None if value is None else str(value)


def _single_address(value: str | None, required_suffix: str | None = None) -> str | None:
    if not value:
        return None
    found = [a for _, a in getaddresses([value]) if a]
    if len(found) != 1:
        return None
    try:
        return clean_address(found[0], required_suffix)
    except InvalidInput:
        return None


def _addresses(value: str | None) -> tuple[str, ...]:
    out = []
    for _, a in getaddresses([value or ""]):
        try:
            out.append(clean_address(a))
        except InvalidInput:
            continue
    return tuple(dict.fromkeys(out))


def _payload_bytes(part: Message) -> bytes:
    data = part.get_payload(decode=True)
    return data if isinstance(data, bytes) else b""


def _text_of(part: Message) -> str:
    data = _payload_bytes(part)
    charset = part.get_content_charset() or "utf-8"
    try:
        return data.decode(charset, errors="replace")
    except LookupError:
        return data.decode("utf-8", errors="replace")


def _open_layers(entity: bytes, decrypt: Decryptor | None, anchors: list[x509.Certificate],
                 at: datetime, revocation: RevocationPolicy | None = None, sender: str | None = None
                 ) -> tuple[bytes, smime.SignatureCheck, bool]:
    """Peel encryption and signature layers; returns the readable entity, the signature check
    and whether the mail was encrypted."""
    check = smime.SignatureCheck(smime.SignatureStatus.UNSIGNED)
    encrypted = False
    for _ in range(4):
        msg = _parse(entity)
        ctype = msg.get_content_type()
        smime_type = (msg.get_param("smime-type") or "")
        smime_type = smime_type.lower() if isinstance(smime_type, str) else ""
        if ctype in ("application/pkcs7-mime", "application/x-pkcs7-mime"):
            der = _payload_bytes(msg)
            if smime_type == "enveloped-data" or (not smime_type and not encrypted and decrypt is not None
                                                 and _looks_enveloped(der)):
                if decrypt is None:
                    raise MalformedMail("encrypted_no_key")
                try:
                    entity = canonical(decrypt(der))
                except InvalidInput as exc:
                    raise MalformedMail("decrypt_failed") from exc
                encrypted = True
                continue
            try:
                content = smime.opaque_content(der)
            except InvalidInput as exc:
                raise MalformedMail("signature_unreadable") from exc
            check = smime.verify(None, der, anchors, at, revocation, sender)
            entity = canonical(content)
            continue
        if ctype == "multipart/signed":
            boundary = msg.get_boundary()
            if not boundary:
                raise MalformedMail("signed_structure")
            try:
                content, sig_entity = signed_parts(entity, boundary)
            except UnicodeEncodeError as exc:
                raise MalformedMail("signed_structure") from exc
            der = _payload_bytes(_parse(sig_entity))
            check = smime.verify(content, der, anchors, at, revocation, sender) if der else smime.SignatureCheck(
                smime.SignatureStatus.INVALID, reason="signature_missing")
            entity = content
            continue
        return entity, check, encrypted
    raise MalformedMail("too_many_layers")


def _looks_enveloped(der: bytes) -> bool:
    # id-envelopedData 1.2.840.113549.1.7.3
    return b"\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x07\x03" in der[:40]


def _collect(msg: Message, texts: list[str], attachments: list[Attachment], depth: int, budget: list[int]) -> None:
    budget[0] -= 1
    if budget[0] < 0:
        raise MalformedMail("too_many_parts")
    if depth > MAX_DEPTH:
        raise MalformedMail("too_deep")
    ctype = msg.get_content_type()
    if msg.is_multipart() and ctype.startswith("multipart/"):
        payload = msg.get_payload()
        if not isinstance(payload, list):
            raise MalformedMail("multipart_structure")
        for sub in payload:
            if not isinstance(sub, Message):
                raise MalformedMail("multipart_structure")
            _collect(sub, texts, attachments, depth + 1, budget)
        return
    disposition = (msg.get_content_disposition() or "").lower()
    filename = msg.get_filename()
    if ctype == "message/rfc822":
        inner = msg.get_payload()
        data = inner[0].as_bytes() if isinstance(inner, list) and inner and isinstance(inner[0], Message) \
            else _payload_bytes(msg)
        attachments.append(Attachment(filename or "message.eml", ctype, data))
        return
    if ctype in ("text/plain", "text/html") and disposition != "attachment" and not filename:
        text = _text_of(msg)
        if ctype == "text/html":
            text = html.unescape(_TAGS.sub(" ", text))
        texts.append(text)
        return
    if ctype in ("application/pkcs7-signature", "application/x-pkcs7-signature"):
        return
    attachments.append(Attachment(_clean_filename(filename, len(attachments)), ctype, _payload_bytes(msg)))


def _clean_filename(name: str | None, index: int) -> str:
    """Never a path: the last component, without control characters, bounded."""
    value = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    value = "".join(ch for ch in value if ch.isprintable()).strip().lstrip(".")
    return value[:180] or f"piece-jointe-{index + 1}"


def parse_inbound(raw: bytes, *, max_bytes: int, anchors: list[x509.Certificate], at: datetime,
                  decrypt: Decryptor | None = None, required_suffix: str | None = None,
                  revocation: RevocationPolicy | None = None) -> InboundMail:
    """Parse one received mail. Raises ``MalformedMail`` (never anything else) when it cannot
    be integrated; the caller quarantines it with the reason."""
    try:
        return _parse_inbound(raw, max_bytes=max_bytes, anchors=anchors, at=at, decrypt=decrypt,
                              required_suffix=required_suffix, revocation=revocation)
    except MalformedMail:
        raise
    except RecursionError as exc:
        raise MalformedMail("too_deep") from exc
    except Exception as exc:  # a hostile message must never crash the gateway
        raise MalformedMail("unparseable") from exc


def _parse_inbound(raw: bytes, *, max_bytes: int, anchors: list[x509.Certificate], at: datetime,
                   decrypt: Decryptor | None, required_suffix: str | None,
                   revocation: RevocationPolicy | None) -> InboundMail:
    if len(raw) > max_bytes:
        raise MalformedMail("too_large")
    if not raw.strip():
        raise MalformedMail("empty")
    raw = canonical(raw)
    top = _parse(raw)
    if top.defects and any(type(d).__name__ in ("MissingHeaderBodySeparatorDefect",) for d in top.defects):
        raise MalformedMail("header_structure")
    bounce = top.get_content_type() == "multipart/report" \
        and str(top.get_param("report-type") or "").lower() == "delivery-status"
    sender = _single_address(_header(top, "From"), None if bounce else required_suffix)
    if sender is None:
        if not bounce:
            raise MalformedMail("sender_invalid")
        sender = "mailer-daemon"   # the operator's report: its author matters less than what it refers to
    ids = message_ids(_header(top, "Message-ID"))
    message_id = ids[0] if ids else f"{hashlib.sha256(raw).hexdigest()[:40]}@chevet.invalid"
    # A report from the operator (a bounce) has no sender of its own to hold the signer to.
    entity, check, encrypted = _open_layers(raw, decrypt, anchors, at, revocation, None if bounce else sender)
    content = _parse(entity)
    disposition = None
    texts: list[str] = []
    attachments: list[Attachment] = []
    report_type = str(content.get_param("report-type") or "").lower() \
        if content.get_content_type() == "multipart/report" else ""
    delivery = None
    if report_type == "delivery-status":
        delivery = dsn.parse_dsn(content)
        if delivery.envelope_id is None and delivery.original_message_id is None:
            raise MalformedMail("dsn_without_original")
    elif report_type == "disposition-notification":
        disposition, human = parse_report(content)
        texts.append(human)
    else:
        _collect(content, texts, attachments, 0, [MAX_PARTS])
    date = None
    if (date_header := _header(top, "Date")) is not None:
        try:
            parsed = parsedate_to_datetime(date_header)
            date = parsed.astimezone(UTC) if parsed.tzinfo else None
        except (TypeError, ValueError, IndexError):
            date = None
    mss = {name: str(top.get(name))[:200] for name in ("X-MSS-NIL", "X-MSS-CODECDA", "X-MSS-INS", "X-MSS-MES")
           if top.get(name) is not None}
    return InboundMail(
        message_id=message_id, sender=sender,
        recipients=_addresses(", ".join(filter(None, [_header(top, "To"), _header(top, "Cc")]))),
        subject=(_header(top, "Subject") or "")[:MAX_SUBJECT], date=date,
        in_reply_to=tuple(message_ids(_header(top, "In-Reply-To"))),
        references=tuple(message_ids(_header(top, "References"))),
        text="\n\n".join(t.strip("\r\n") for t in texts), attachments=tuple(attachments), signature=check,
        encrypted=encrypted, mdn_to=_single_address(_header(top, "Disposition-Notification-To")),
        return_path=_single_address(_header(top, "Return-Path")), mss_headers=mss, disposition=disposition,
        delivery=delivery)


def build_mdn_content(original: InboundMail, original_raw: bytes, *, reporting_ua: str, final_recipient: str,
                      disposition: Disposition, human_text: str) -> bytes:
    """The ``multipart/report`` entity answering ``original``, sent as the message's top-level
    body (not signed: a plain RFC 6522 reader must meet the report first, as the ANS structure
    shows it). The original travels whole inside it, its IHE_XDM.zip and PDF included, once
    (ANS volet v1.1.3, « Troisième partie : courriel d'origine »)."""
    # Original-Recipient: from the mail's own header when its MTA wrote one (RFC 8098 §3.2.3),
    # else the mailbox it reached, as the ANS volet requires the field.
    return build_report(original_message_id=original.message_id,
                        original_recipient=original_recipient(original_raw) or final_recipient,
                        final_recipient=final_recipient, reporting_ua=reporting_ua, disposition=disposition,
                        human_text=human_text, original_raw=canonical(original_raw))
