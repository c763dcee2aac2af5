"""The Art. 30 register as a console page: all in French for a French reader (no English word
left in it, from the data up), all in English for an English reader, printable."""

from __future__ import annotations

import html
import re

import pytest

from chevet.bootstrap import Installation
from chevet.web.app import create_app
from tests.governance_support import scene
from tests.web_client import Browserless

# Words found in the register before it was translated at its source (rationales, kinds).
ENGLISH = ("shift", "handovers", "weeks", "covers", "rota", "one year", "follow-up", "between",
           "professionals", "ad hoc", "groups", "project", "meeting", "months", "kept", "whole", "while",
           "closing", "patient record", "answer", "letters", "results", "received", "belong",
           "exchange", "team", "direct", "group", "care_case", "external", "after_close")


def _text(page: str) -> str:
    body = page.split("<main", 1)[-1]
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", body)))


@pytest.fixture
async def app(installation: Installation) -> object:
    return create_app(installation)


async def test_register_reads_in_french_and_prints(installation: Installation, app: object) -> None:
    s = await scene(installation.services)
    c = Browserless(app=app)
    try:
        await c.sign_in(s.dpo)
        r = await c.get("/gouvernance/registre")
    finally:
        await c.close()
    assert r.status_code == 200
    said = _text(r.text)
    assert "Canaux d'équipe : 3 mois" in said and "Journal d'audit : 1 an" in said
    assert re.search(r"établi le \d{1,2} \w+ 20\d\d", said)
    left = [w for w in ENGLISH if re.search(rf"\b{re.escape(w)}\b", said, re.IGNORECASE)]
    assert left == []
    assert "data-print" in r.text and "print.js" in r.text


async def test_register_reads_in_english_for_an_english_reader(installation: Installation, app: object) -> None:
    s = await scene(installation.services)
    c = Browserless(app=app, language="en")
    try:
        await c.sign_in(s.dpo)
        r = await c.get("/gouvernance/registre")
        nurse = Browserless(app=app)
        await nurse.sign_in(s.nurse)
        refused = await nurse.get("/gouvernance/registre")
        await nurse.close()
    finally:
        await c.close()
    said = _text(r.text)
    assert "Team channels: 3 months" in said and "Record of processing activities" in said
    assert "Canaux" not in said and "Finalités" not in said
    assert refused.status_code == 403
