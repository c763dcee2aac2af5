"""The one way XML from outside (MSSanté METADATA.XML, HL7 CDA documents) is parsed.

A hostile document must neither expand an entity (billion laughs, quadratic blow-up), nor make
the parser fetch anything (external entities, external DTD subsets, XInclude). Looking for
``<!DOCTYPE`` in the raw bytes is not enough: the same declaration in UTF-16 or behind a
lying ``encoding=`` has other bytes. The refusal is therefore made by the parser itself
(``defusedxml`` over expat), after decoding, whatever the encoding: any document type
declaration is refused, and with it every internal, external or parameter entity. An
``xi:include`` element is refused as well: nothing here processes XInclude, and a document
that asks for it is not one we were sent to read. An encoding expat cannot read (UTF-32,
multi-byte legacy code pages) is refused as unreadable.
"""

from __future__ import annotations

from typing import cast
from xml.etree import ElementTree as ET

from defusedxml import DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden
from defusedxml import ElementTree as SafeET

from chevet.core.errors import InvalidInput

XINCLUDE_NS = "{http://www.w3.org/2001/XInclude}"


class UnsafeXml(InvalidInput):
    """An XML document refused before anything in it was used; ``reason`` says why
    (``dtd``, ``entity``, ``external``, ``xinclude``, ``unreadable``)."""

    code = "xml_refused"

    def __init__(self, reason: str) -> None:
        super().__init__("xml_refused", reason=reason)
        self.reason = reason


def parse(data: bytes) -> ET.Element:
    """The root element of an XML document received from outside, or ``UnsafeXml``."""
    try:
        root = cast(ET.Element, SafeET.fromstring(data, forbid_dtd=True, forbid_entities=True,
                                                  forbid_external=True))
    except DTDForbidden as exc:
        raise UnsafeXml("dtd") from exc
    except EntitiesForbidden as exc:
        raise UnsafeXml("entity") from exc
    except ExternalReferenceForbidden as exc:
        raise UnsafeXml("external") from exc
    except (ET.ParseError, ValueError, LookupError, UnicodeError, RecursionError) as exc:
        raise UnsafeXml("unreadable") from exc
    if any(isinstance(el.tag, str) and el.tag.startswith(XINCLUDE_NS) for el in root.iter()):
        raise UnsafeXml("xinclude")
    return root
