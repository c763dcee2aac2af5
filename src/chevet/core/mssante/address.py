"""MSSanté addresses and Message-IDs.

Whether every MSSanté domain must end in ``.mssante.fr`` is not confirmed by the current
référentiel, so the suffix check is an option the administrator turns on.
"""

from __future__ import annotations

import re

from chevet.core.errors import InvalidInput

MAX_ADDRESS = 254
_LOCAL = re.compile(r"^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")
_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_MSGID = re.compile(r"<([^<>\s@]+@[^<>\s@]+)>")
PATIENT_DOMAIN = "patient.mssante.fr"


def clean_address(value: str, required_suffix: str | None = None) -> str:
    """A lower-cased ``local@domain``, or ``InvalidInput``."""
    if not isinstance(value, str):
        raise InvalidInput("mss_address_invalid")
    address = value.strip().lower()
    if len(address) > MAX_ADDRESS or address.count("@") != 1:
        raise InvalidInput("mss_address_invalid")
    local, domain = address.split("@")
    if not local or len(local) > 64 or not _LOCAL.match(local) or not _DOMAIN.match(domain):
        raise InvalidInput("mss_address_invalid")
    if required_suffix and not (domain == required_suffix.lstrip(".")
                                or domain.endswith("." + required_suffix.lstrip("."))):
        raise InvalidInput("mss_address_outside_trust_space", suffix=required_suffix)
    return address


def is_patient_address(address: str) -> bool:
    """Mon Espace Santé addresses carry the patient's INS: they are patient identifiers."""
    return address.lower().endswith("@" + PATIENT_DOMAIN)


def message_ids(header: str | None) -> list[str]:
    """The ``<id>`` values of a Message-ID, In-Reply-To or References header, without brackets."""
    if not header:
        return []
    return [m.lower() for m in _MSGID.findall(str(header))][:100]

