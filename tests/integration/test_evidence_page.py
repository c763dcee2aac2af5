"""The evidence table in the console (/gouvernance/preuves): the administrator, the DPO, the
director and the quality lead read the same rows as docs/compliance.md, in their language, with
a print button; carers and managers do not; nothing a person reads is an id or a UTC time."""

from __future__ import annotations

import html
import re

from chevet.bootstrap import Installation
from chevet.core import evidence
from tests.attachment_support import Api
from tests.signalement_support import ehpad
from tests.support import new_member

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
ISO_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")


async def test_those_who_answer_to_auditors_read_the_table_and_carers_do_not(installation: Installation,
                                                                              api: Api) -> None:
    svc = installation.services
    e = await ehpad(svc)
    dpo = await new_member(svc, e.org, "dpo")
    director = await new_member(svc, e.org, "director")
    manager = await new_member(svc, e.org, "manager")
    readers, others = [e.admin, dpo, director, e.quality], [e.nurse, e.carer, manager]
    for m in (*readers, *others):
        await api.login(m)

    def cookie(m: object) -> dict[str, str]:
        return {"Cookie": f"chevet_session={api.tokens[m.id]}"}  # type: ignore[attr-defined]

    for m in others:
        r = await api.client.get("/gouvernance/preuves", headers=cookie(m))
        assert r.status_code == 403, m
        assert "PGSSI-S" not in r.text
    for m in readers:
        r = await api.client.get("/gouvernance/preuves", headers=cookie(m))
        assert r.status_code == 200, m
    page = html.unescape(r.text)
    assert '<html lang="fr">' in page and "Preuves de conformité" in page
    assert "default-src 'self'" in r.headers["content-security-policy"]
    assert all(" src=" in tag for tag in re.findall(r"<script[^>]*>", page)) and "style=" not in page
    assert "data-print" in page and "Imprimer" in page and "print.js" in page
    assert page.count("<tr>") == len(evidence.OBLIGATIONS) + 1
    for o in evidence.OBLIGATIONS:
        for ref in o.tests:
            file, test = ref.split("::")
            assert f"<code>{file}</code>" in page and f"<code>{test}</code>" in page
    for words in ("Article 33", "Référentiel d'imputabilité", "RGESN", "Preuve automatisée",
                  "Notifier une violation de données à la CNIL dans les 72 heures"):
        assert words in page, words
    text = re.sub(r"<[^>]+>", " ", page[page.index("<body"):])  # what a person reads
    assert not UUID.search(text) and not ISO_TIME.search(text) and "{" not in text
    assert re.search(r"Tableau édité le \d{1,2} \w+ \d{4} à \d{1,2} h \d{2}", page)

    english = await api.client.get("/gouvernance/preuves", headers=cookie(dpo) | {"Accept-Language": "en"})
    assert '<html lang="en">' in english.text and "Compliance evidence" in english.text
    assert "Notify a personal data breach to the CNIL within 72 hours" in english.text
    assert "Obligations, réponses" not in english.text
