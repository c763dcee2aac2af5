"""The evidence table an auditor reads (docs/compliance.md, /gouvernance/preuves) says which
tests prove each obligation: every one of them must exist, the document must say what the data
says, and its documentation links must lead somewhere."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from chevet.core import evidence
from chevet.web.i18n import catalog, gettext

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "compliance.md"
PROOF = re.compile(r"`(tests/[\w/]+\.py)::([\w:\[\]\-.]+)`")
CONSOLE = {"/console", "/admin/people", "/admin/people/import", "/admin/annuaire", "/admin/teams",
           "/admin/organisation", "/admin/signalement", "/gouvernance/traces", "/gouvernance/conservation",
           "/gouvernance/registre", "/gouvernance/violations", "/gouvernance/travaux", "/admin/sobriety",
           "/gouvernance/preuves", "/admin/mssante/quarantine", "/gouvernance/recu"}


def _defined_tests(path: Path) -> set[str]:
    """``name`` for module-level test functions, ``Class::name`` for methods of test classes."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            names.add(node.name)
        elif isinstance(node, ast.ClassDef):
            names |= {f"{node.name}::{n.name}" for n in node.body
                      if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
    return names


def missing_tests(references: list[tuple[str, str]]) -> list[str]:
    """The references (``file``, ``test``) that do not name a test function of an existing file;
    a parametrised id (``test_x[sqlite]``) names ``test_x``."""
    bad = []
    for file, test in references:
        path = ROOT / file
        name = test.split("[", 1)[0]
        if not path.is_file() or name not in _defined_tests(path):
            bad.append(f"{file}::{test}")
    return bad


def _doc_references() -> list[tuple[str, str]]:
    return PROOF.findall(DOC.read_text(encoding="utf-8"))


def test_every_proof_in_the_document_is_a_test_that_exists() -> None:
    refs = _doc_references()
    assert len(refs) >= 30, "the table names its proofs"
    assert missing_tests(refs) == []


def test_a_wrong_test_name_or_file_is_caught() -> None:
    assert missing_tests([("tests/unit/test_totp.py", "test_rfc6238_vectors"),
                          ("tests/unit/test_totp.py", "test_rfc6238_vectors[case-1]")]) == []
    assert missing_tests([("tests/unit/test_totp.py", "test_rfc6238_vector")]) == [
        "tests/unit/test_totp.py::test_rfc6238_vector"]
    assert missing_tests([("tests/unit/test_no_such_file.py", "test_x")]) == ["tests/unit/test_no_such_file.py::test_x"]


def test_the_document_holds_the_table_the_data_gives() -> None:
    text = DOC.read_text(encoding="utf-8")
    start, end = text.index(evidence.BEGIN), text.index(evidence.END) + len(evidence.END)
    assert text[start:end] == evidence.markdown(lambda key: gettext(key, "fr")), \
        "run: PYTHONPATH=src python tools/compliance_table.py"
    assert {f"{f}::{t}" for f, t in _doc_references()} == {t for o in evidence.OBLIGATIONS for t in o.tests}


def test_the_table_covers_what_a_dpo_is_asked_about() -> None:
    frameworks = " ".join(o.framework + " " + o.reference for o in evidence.OBLIGATIONS)
    for expected in ("PGSSI-S", "Référentiel d'identification", "imputabilité", "CNIL", "journalisation",
                     "Article 15", "Article 17", "Article 30", "Article 33", "HDS", "réversibilité",
                     "HAS", "RGESN"):
        assert expected in frameworks, expected
    assert "4.3" not in frameworks, "the HAS ESSMS référentiel has no chapter 4"
    assert len({o.key for o in evidence.OBLIGATIONS}) == len(evidence.OBLIGATIONS)
    assert all(o.tests and o.docs for o in evidence.OBLIGATIONS)


def _anchors(path: Path) -> set[str]:
    slugs = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            slugs.add(re.sub(r"\s", "-", re.sub(r"[^\w\s-]", "", title)))
    return slugs


@pytest.mark.parametrize("obligation", evidence.OBLIGATIONS, ids=lambda o: o.key)
def test_each_row_leads_to_its_documentation_and_reads_in_both_languages(obligation: evidence.Obligation) -> None:
    for link in obligation.docs:
        file, _, anchor = link.partition("#")
        assert (ROOT / file).exists(), link
        if anchor:
            assert anchor in _anchors(ROOT / file), link
    for message_id in (obligation.obligation_id, obligation.answer_id):
        assert message_id in catalog("fr") and message_id in catalog("en"), message_id
        assert catalog("fr")[message_id] != catalog("en")[message_id]
    assert obligation.console is None or obligation.console in CONSOLE
