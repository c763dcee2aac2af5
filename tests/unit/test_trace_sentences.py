"""Every action the application writes to the audit trail reads as a sentence, in French and in
English: a code found in the source without its wording fails here."""

from __future__ import annotations

import re
from pathlib import Path

from chevet.app.attachments.download import READ_AUDITED
from chevet.core.audit import MESSAGE_SENT
from chevet.web.i18n import catalog

SRC = Path(__file__).resolve().parents[2] / "src" / "chevet"
# The first string of each call that writes an audit entry is its action code.
CALL = re.compile(r'\b(?:audit|AuditEvent|record_installation_act|audit_key_event)\((?:[^"()]|\([^()]*\))*?f?"'
                  r'([a-z_{}.]+\.[a-z_]+)"')
MAIL_KINDS = re.compile(r'^KIND = "([a-z_]+)"', re.M)


def codes_in(text: str, mail_kinds: list[str]) -> set[str]:
    found = set()
    for code in CALL.findall(text):
        if code.startswith("{mail.kind}."):
            found |= {kind + code[len("{mail.kind}"):] for kind in mail_kinds}
        elif "{" not in code:
            found.add(code)
    return found


def written_codes() -> set[str]:
    sources = [p.read_text(encoding="utf-8") for p in SRC.rglob("*.py")]
    kinds = [k for text in sources for k in MAIL_KINDS.findall(text)]
    # A message sent is written through its constant (its row holds its place in the chain).
    return {c for text in sources for c in codes_in(text, kinds)} | set(READ_AUDITED.values()) | {MESSAGE_SENT}


def test_the_scan_finds_the_codes_the_app_writes() -> None:
    codes = written_codes()
    assert {"care_case.read", "person.role_changed", "invitation.mailed", "care_case.attachment_read",
            "message.sent", "keys.key_added"} <= codes
    assert len(codes) > 100


def test_each_written_action_has_a_sentence_and_a_label_in_french_and_english() -> None:
    missing = [f"{lang}: {kind}.{code}" for code in sorted(written_codes()) for lang in ("fr", "en")
               for kind in ("audit.sentence", "audit.action") if f"{kind}.{code}" not in catalog(lang)]
    assert missing == []


def test_a_code_without_wording_is_caught() -> None:
    text = 'await u.audit(org, "care_case.teleported", actor, "conversation", cid)'
    assert codes_in(text, []) == {"care_case.teleported"}
    assert "audit.sentence.care_case.teleported" not in catalog("fr")


def test_each_sentence_names_who_and_when() -> None:
    for lang in ("fr", "en"):
        for key, text in catalog(lang).items():
            if key.startswith("audit.sentence."):
                assert "{who}" in text and "{when}" in text and "{ip}" in text, (lang, key)
