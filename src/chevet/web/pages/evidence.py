"""The evidence table for auditors as a printable console page, ``/gouvernance/preuves``: the
same rows as docs/compliance.md (``core.evidence``), in the reader's language, reflowing into
one card per obligation on a phone, with a print stylesheet and a print button."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import Response

from chevet.app.governance import evidence
from chevet.web.pages.page import SignedInPage, signed_in, ui

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True, slots=True)
class Proof:
    """A test of the repository, shown as its file and its function."""

    file: str
    test: str


@dataclass(frozen=True, slots=True)
class Row:
    framework: str
    reference: str
    obligation: str
    answer: str
    docs: tuple[str, ...]
    console: str | None
    proofs: tuple[Proof, ...]


def rows(p: SignedInPage) -> list[Row]:
    out = []
    for o in evidence.table(p.actor, p.report_functions):
        proofs = tuple(Proof(*ref.split("::", 1)) for ref in o.tests)
        out.append(Row(o.framework, o.reference, p.t(o.obligation_id), p.t(o.answer_id),
                       tuple(d.removeprefix("docs/").split("#", 1)[0] for d in o.docs), o.console, proofs))
    return out


@router.get("/gouvernance/preuves")
@ui
async def evidence_page(request: Request) -> Response:
    p = await signed_in(request)
    table = rows(p)
    return p.render("governance/evidence.html", title=p.t("evidence.title"), section="evidence", rows=table,
                    printed=p.moment(p.services.clock.now()))
