"""The trust space's list of domains (liste blanche): which sending domains an MSSanté operator
accepts mail from.

The national list's format, address and signature are not public in the documents we hold, so
this module reads a *documented, plausible* format (below) and keeps the reading pluggable: a
format is chosen by the XML namespace of the document's root element, and another format is
one more ``WhitelistFormat`` in ``FORMATS``. The list comes from outside: it is parsed with the
one hostile-input-safe XML parser (no DTD, no entity, no external reference), bounded in size
and number of domains, every domain checked for syntax, and a list older than the one in use
is refused (no roll-back to a list that still names a removed operator).

Format read by default (namespace ``urn:chevet:mssante:liste-blanche:1``)::

    <listeBlanche xmlns="urn:chevet:mssante:liste-blanche:1" dateGeneration="2026-12-01T02:00:00+01:00">
      <operateur identifiant="OP-001" nom="Opérateur A">
        <domaine>ch-exemple.mssante.fr</domaine>
        <domaine>*.ght-exemple.mssante.fr</domaine>   (every sub-domain, never the domain itself)
      </operateur>
    </listeBlanche>
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email import policy as email_policy
from email.parser import BytesHeaderParser
from email.utils import getaddresses
from enum import StrEnum
from typing import Protocol
from xml.etree import ElementTree as ET

from chevet.core import untrusted_xml
from chevet.core.errors import InvalidInput

DEFAULT_NAMESPACE = "urn:chevet:mssante:liste-blanche:1"
MAX_BYTES = 20 * 1024 * 1024
MAX_DOMAINS = 200_000
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


class WhitelistRefused(InvalidInput):
    """A list that cannot be used; ``reason`` says why (never a domain or a value from it)."""

    def __init__(self, reason: str) -> None:
        super().__init__("mss_whitelist_refused", reason=reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Whitelist:
    """The domains of the trust space, as of ``generated_at``."""

    namespace: str
    generated_at: datetime
    domains: frozenset[str]
    suffixes: frozenset[str] = frozenset()   # from ``*.example.fr``: strict sub-domains only
    operators: int = 0

    def allows(self, domain: str) -> bool:
        d = domain.strip().lower().rstrip(".")
        if not d or not valid_domain(d):
            return False
        if d in self.domains:
            return True
        parts = d.split(".")
        return any(".".join(parts[i:]) in self.suffixes for i in range(1, len(parts)))

    def allows_address(self, address: str) -> bool:
        local, at, domain = address.strip().rpartition("@")
        return bool(at and local) and self.allows(domain)

    @property
    def size(self) -> int:
        return len(self.domains) + len(self.suffixes)


class WhitelistFormat(Protocol):
    """One way of writing the list, recognised by its root element's namespace."""

    namespace: str

    def read(self, root: ET.Element) -> Whitelist: ...


def valid_domain(domain: str) -> bool:
    """LDH labels (RFC 1035 §2.3.1, as RFC 5321 §4.1.2 takes them), at least two, ≤ 253 characters."""
    if len(domain) > 253 or "." not in domain:
        return False
    return all(_LABEL.match(label) for label in domain.split("."))


def _generated(value: str | None) -> datetime:
    if not value:
        raise WhitelistRefused("date_missing")
    try:
        at = datetime.fromisoformat(value.strip())
    except ValueError as exc:
        raise WhitelistRefused("date_invalid") from exc
    if at.tzinfo is None:
        raise WhitelistRefused("date_without_offset")
    return at.astimezone(UTC)


class ChevetListFormat:
    """The format documented in this module's docstring."""

    def __init__(self, namespace: str = DEFAULT_NAMESPACE) -> None:
        self.namespace = namespace

    def read(self, root: ET.Element) -> Whitelist:
        ns = f"{{{self.namespace}}}"
        if root.tag != f"{ns}listeBlanche":
            raise WhitelistRefused("root_element")
        generated = _generated(root.get("dateGeneration"))
        domains: set[str] = set()
        suffixes: set[str] = set()
        operators = 0
        for op in root.iterfind(f"{ns}operateur"):
            operators += 1
            for el in op.iterfind(f"{ns}domaine"):
                value = (el.text or "").strip().lower().rstrip(".")
                wildcard = value.startswith("*.")
                name = value[2:] if wildcard else value
                if not valid_domain(name):
                    raise WhitelistRefused("domain_invalid")
                (suffixes if wildcard else domains).add(name)
                if len(domains) + len(suffixes) > MAX_DOMAINS:
                    raise WhitelistRefused("too_many_domains")
        if not domains and not suffixes:
            raise WhitelistRefused("empty")
        return Whitelist(self.namespace, generated, frozenset(domains), frozenset(suffixes), operators)


def formats(namespace: str = DEFAULT_NAMESPACE) -> dict[str, WhitelistFormat]:
    """The formats this installation reads, by namespace (the configured one first)."""
    known: list[WhitelistFormat] = [ChevetListFormat(namespace)]
    if namespace != DEFAULT_NAMESPACE:
        known.append(ChevetListFormat())
    return {f.namespace: f for f in known}


def parse(data: bytes, expected_namespace: str = DEFAULT_NAMESPACE,
          readers: dict[str, WhitelistFormat] | None = None) -> Whitelist:
    """The list in ``data``, read by the format its namespace names, which must be the one the
    administrator configured: a document in another namespace is refused, not guessed at."""
    if len(data) > MAX_BYTES:
        raise WhitelistRefused("too_large")
    try:
        root = untrusted_xml.parse(data)
    except untrusted_xml.UnsafeXml as exc:
        raise WhitelistRefused(f"xml_{exc.reason}") from exc
    namespace = root.tag[1:].split("}", 1)[0] if root.tag.startswith("{") else ""
    if namespace != expected_namespace:
        raise WhitelistRefused("namespace")
    reader = (readers or formats(expected_namespace)).get(namespace)
    if reader is None:
        raise WhitelistRefused("format_unknown")
    return reader.read(root)


def replaces(new: Whitelist, current: Whitelist | None) -> bool:
    """Whether ``new`` may take the place of ``current``: never an older list."""
    return current is None or new.generated_at >= current.generated_at


def header_sender_domain(raw: bytes) -> str | None:
    """The domain of the one ``From`` address of a received mail (None when there is not exactly
    one readable address): what the listener holds to the list besides the envelope sender."""
    head = raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0][:65536]
    try:
        msg = BytesHeaderParser(policy=email_policy.compat32).parsebytes(head)
        values = msg.get_all("From") or []
    except Exception:
        return None
    addresses = [a for _, a in getaddresses([str(v) for v in values]) if a]
    if len(addresses) != 1 or addresses[0].count("@") != 1:
        return None
    domain = addresses[0].rsplit("@", 1)[1].strip().lower().rstrip(".")
    return domain or None


class Verdict(StrEnum):
    """What the listener does with a sending domain."""

    ALLOWED = "allowed"
    UNLISTED = "unlisted"      # refused (550) or quarantined, as configured
    NO_LIST = "no_list"        # no list yet: the mail waits (451), the sender retries
    STALE = "stale"            # the list is out of date: the mail waits too


def verdict(whitelist: Whitelist | None, domain: str | None, now: datetime, max_age: timedelta) -> Verdict:
    """Fail closed: without a current list nothing is accepted, but nothing is refused for good
    either (a 4xx keeps the mail at the sending operator until the list is back)."""
    if whitelist is None:
        return Verdict.NO_LIST
    if now - whitelist.generated_at > max_age:
        return Verdict.STALE
    return Verdict.ALLOWED if domain and whitelist.allows(domain) else Verdict.UNLISTED
