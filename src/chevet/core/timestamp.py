"""RFC 3161 time-stamps: the request for a digest, and the checks of the authority's answer.

The audit witness may have each record time-stamped by an outside time-stamping authority
(TSA): the token proves that the record, hence every checkpoint before it, existed at that time,
on the word of a third party that the installation's operator does not control. Sans-I/O: the
adapter posts the request (``application/timestamp-query``) and hands the answer back here.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from asn1crypto import cms as asn1_cms
from asn1crypto import tsp
from cryptography import x509

from chevet.core.mssante import smime


class TimestampRefused(ValueError):
    """The authority's answer is not a token for this request."""


@dataclass(frozen=True, slots=True)
class TimestampRequest:
    der: bytes
    digest: bytes
    nonce: int


def request_for(digest: bytes) -> TimestampRequest:
    """A TimeStampReq (RFC 3161 §2.4.1) for a SHA-256 digest, asking for the TSA's certificate."""
    nonce = secrets.randbits(63)
    req = tsp.TimeStampReq({
        "version": "v1",
        "message_imprint": {"hash_algorithm": {"algorithm": "sha256"}, "hashed_message": digest},
        "nonce": nonce, "cert_req": True})
    return TimestampRequest(req.dump(), digest, nonce)


def token_from_reply(request: TimestampRequest, reply: bytes) -> bytes:
    """The TimeStampToken (DER ContentInfo) of a granted TimeStampResp that answers ``request``."""
    try:
        resp = tsp.TimeStampResp.load(reply)
        status = resp["status"]["status"].native
        token = resp["time_stamp_token"]
        if status not in ("granted", "granted_with_mods") or token.native is None:
            raise TimestampRefused(f"status {status}")
        info = _info(token)
        if info["nonce"].native != request.nonce:
            raise TimestampRefused("nonce")
    except TimestampRefused:
        raise
    except Exception as exc:  # asn1crypto raises many types on hostile input
        raise TimestampRefused("unreadable") from exc
    _check_imprint(info, request.digest)
    return bytes(token.dump())


def _info(token: asn1_cms.ContentInfo) -> tsp.TSTInfo:
    info = token["content"]["encap_content_info"]["content"].parsed
    if not isinstance(info, tsp.TSTInfo):
        raise TimestampRefused("not a TSTInfo")
    return info


def _check_imprint(info: tsp.TSTInfo, digest: bytes) -> None:
    imprint = info["message_imprint"]
    if imprint["hash_algorithm"]["algorithm"].native != "sha256" or imprint["hashed_message"].native != digest:
        raise TimestampRefused("imprint")


@dataclass(frozen=True, slots=True)
class TimestampCheck:
    valid: bool
    time: datetime | None = None
    authority: str | None = None
    reason: str | None = None


def check_token(token_der: bytes, digest: bytes, anchors: list[x509.Certificate]) -> TimestampCheck:
    """A token is valid for ``digest`` when it stamps that digest, its signature is intact, and
    the TSA's certificate (fit for time-stamping) chains to one of ``anchors`` at the stamped time."""
    try:
        token = asn1_cms.ContentInfo.load(token_der)
        info = _info(token)
        _check_imprint(info, digest)
        when: datetime = info["gen_time"].native
        content = bytes(token["content"]["encap_content_info"]["content"].contents)
    except TimestampRefused as exc:
        return TimestampCheck(False, reason=str(exc))
    except Exception:  # asn1crypto raises many types on hostile input
        return TimestampCheck(False, reason="unreadable")
    check = smime.verify(content, token_der, anchors, when, purpose="timestamping")
    if check.status is not smime.SignatureStatus.VALID:
        return TimestampCheck(False, when, check.signer, check.reason or check.status.value)
    return TimestampCheck(True, when, check.signer)
