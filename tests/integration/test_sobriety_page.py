"""The sobriety dashboard as a DPO reads it: entirely in French (or entirely in English when that
is her language), sizes in Mo/Go, figures with French separators, times in Europe/Paris, and a
chart whose words are the page's words."""

from __future__ import annotations

import re

from chevet.bootstrap import Installation
from tests.attachment_support import Api
from tests.media_samples import pdf
from tests.support import new_member, new_org

# Words of the English interface and of the English factor notes that the French page showed.
ENGLISH = ("Mobile networks", "boxes only", "not devices", "data centres", "per subscriber", "per month",
           "Fixed access", "extra byte", "low end", "No ADEME reference found", "Servers and disks",
           "depends on the hoster", "electricity mix", "GB (marginal)", "/year", "Estimates", "Storage",
           "Cumulative", "UTC")
ISO_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")


def _visible(html: str) -> str:
    """The page's text and attributes a person may meet, without the markup's own names."""
    html = re.sub(r'xmlns="[^"]*"', "", html)
    return re.sub(r"<link[^>]*>|<script[^>]*>", "", html)


async def _dashboard(installation: Installation, api: Api, accept: str) -> str:
    svc = installation.services
    org = await new_org(svc)
    dpo = await new_member(svc, org, "dpo")
    nurse = await new_member(svc, org, "nurse")
    for m in (dpo, nurse):
        await api.login(m)
    conv = await api.conversation(nurse, dpo, kind="direct")
    letter = (await api.upload(nurse, conv, pdf("Courrier " * 400), name="courrier.pdf")).json()
    assert (await api.send(nurse, conv, [letter["id"]], body="Courrier de sortie")).status_code == 201
    r = await api.client.get("/admin/sobriety", headers={"Cookie": f"chevet_session={api.tokens[dpo.id]}",
                                                          "Accept-Language": accept})
    assert r.status_code == 200, r.text
    return r.text


async def test_the_french_dashboard_has_no_english_word_no_gb_and_no_utc_time(installation: Installation,
                                                                              api: Api) -> None:
    page = _visible(await _dashboard(installation, api, "fr-FR"))
    assert '<html lang="fr">' in page
    found = [w for w in ENGLISH if w in page]
    assert found == [], f"English on the French page: {found}"
    assert not re.search(r"\b[kMGT]?B\b", page), "sizes in o, ko, Mo, Go in French"
    assert "GB" not in page
    assert not ISO_TIME.search(page), "times as « 3 décembre 2026 à 14 h 05 », never ISO"
    assert "49,4" in page and "49.4" not in page, "French decimal comma"
    assert re.search(r"Calculé le \d{1,2} \w+ \d{4} à \d{1,2} h \d{2}", page)
    assert "gCO2e/Go" in page
    assert "La conservation automatique n'est pas active" not in page


async def test_the_english_dashboard_is_english(installation: Installation, api: Api) -> None:
    page = _visible(await _dashboard(installation, api, "en"))
    assert '<html lang="en">' in page
    for french in ("Réseaux mobiles", "Calculé le", " Mo<", " Go ", "par an", "Périmètre"):
        assert french not in page, french
    assert re.search(r"Computed on \d{1,2} \w+ \d{4} at \d{2}:\d{2}", page)
    assert "gCO2e/GB" in page and not ISO_TIME.search(page)


async def test_the_chart_speaks_the_page_language_and_keeps_phone_sized_text(installation: Installation,
                                                                            api: Api) -> None:
    page = await _dashboard(installation, api, "fr")
    start = page.index("<svg", page.index('<figure class="chart"'))
    svg = page[start:page.index("</svg>", start)]
    assert "<title" in svg and "<desc" in svg and 'role="img"' in svg
    assert re.search(r">(janv|févr|mars|avr|mai|juin|juil|août|sept|oct|nov|déc)\.? ?\d{2}<", svg), \
        "months named in French on the axis"
    width = float(re.search(r'viewBox="0 0 (\d+)', svg).group(1))  # type: ignore[union-attr]
    size = float(re.search(r'font-size="(\d+)"', svg).group(1))  # type: ignore[union-attr]
    # Drawn at the width of a 360 px phone's content (about 328 px), text stays at 12 px or more.
    assert size * 328 / width >= 12, "chart text readable on a phone"
