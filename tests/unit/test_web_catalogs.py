"""Every text the web client shows exists in French and in English: a missing id would show
its raw key to a nurse."""

from __future__ import annotations

import re
from pathlib import Path

from chevet.core.mail_outbox import MailState
from chevet.web.i18n import catalog

TEMPLATES = Path(__file__).resolve().parents[2] / "src" / "chevet" / "web" / "templates"
LITERAL = re.compile(r"""\bt\(\s*'([a-z0-9_.]+)'""")
PREFIXED = re.compile(r"""\bt\(\s*'([a-z0-9_.]+\.)'\s*~""")


def test_every_literal_text_of_the_templates_is_translated() -> None:
    used: set[str] = set()
    for path in TEMPLATES.glob("*.html"):
        used |= {k for k in LITERAL.findall(path.read_text()) if not k.endswith(".")}
    assert len(used) > 100
    for lang in ("fr", "en"):
        missing = sorted(k for k in used if k not in catalog(lang))
        assert missing == [], (lang, missing)


def test_computed_texts_exist_for_every_value() -> None:
    families = {"ui.kind.": ["care_case", "direct", "group", "team", "external"],
                "role.": ["admin", "dpo", "manager", "physician", "nurse", "care_assistant", "social_worker",
                          "external"],
                "ui.status.": ["active", "invited", "deactivated"],
                "ui.invite.mail.": [s.value for s in MailState],
                "ui.account.level.": ["grouped", "urgent", "none"],
                "ui.new.kind_hint.": ["care_case", "direct", "group", "team"],
                "ui.admin.push_content.": ["name", "nothing"],
                "ui.list.preview.": ["photo", "voice", "file"],
                "ui.notice.": ["signed_out", "account_ready", "saved", "session_revoked", "member_added",
                               "member_removed", "role_changed", "deactivated", "team_created", "mss_requeued",
                               "mss_released", "mss_receipt_sent", "mss_receipt_declined"],
                "push.": ["new", "new.in", "urgent", "urgent.in"],
                "sobriety.kind.": ["text", "image", "document"],
                "mss.type.": ["PER", "ORG", "APP", "CAB"],
                "mss.restriction.": ["MASQUE_PS", "INVISIBLE_PATIENT", "INVISIBLE_REP_LEGAUX"]}
    prefixes = set()
    for path in TEMPLATES.glob("*.html"):
        prefixes |= set(PREFIXED.findall(path.read_text()))
    assert prefixes <= set(families) | {"ui.account.level_hint."}
    for lang in ("fr", "en"):
        for prefix, values in families.items():
            assert [v for v in values if prefix + v not in catalog(lang)] == [], (lang, prefix)
    assert catalog("fr")["ui.kind.care_case"] != catalog("en")["ui.kind.care_case"]
