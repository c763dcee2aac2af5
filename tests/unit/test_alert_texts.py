"""Every text of the alert screens and notifications exists in French and in English: a missing
id would show its raw key to the nurse being called."""

from __future__ import annotations

import re
from pathlib import Path

from chevet.core.care.alert import AckKind, TargetKind
from chevet.web.i18n import catalog

SRC = Path(__file__).resolve().parents[2] / "src" / "chevet"
LITERAL = re.compile(r"""\bt\(\s*['"]([a-z0-9_.]+)['"]""")


def test_every_text_of_the_alert_screens_is_translated() -> None:
    used: set[str] = set()
    for path in [*(SRC / "web" / "templates" / "care").glob("alert*.html"), SRC / "web" / "pages" / "alerts.py"]:
        used |= {k for k in LITERAL.findall(path.read_text()) if not k.endswith(".")}
    computed = {f"alert.state.{s}" for s in ("open", "late", "exhausted", "taken", "seen")} | \
        {f"alert.line.ack.{a.value}" for a in AckKind} | {f"alert.done.{a.value}" for a in AckKind} | \
        {f"alert.status.{s}" for s in ("open", "late", "exhausted", "taken", "seen")} | \
        {f"alert.for.group.{k.value}" for k in TargetKind} | \
        {f"alert.step.{s}" for s in ("next_on_call", "manager", "address")} | \
        {"push.alert.new", "push.alert.escalated", "push.alert.take", "push.alert.seen", "alert.notice.ladder_saved",
         "console.section.alerts", "console.section.alerts.about", "console.group.care"}
    assert len(used) > 30
    for lang in ("fr", "en"):
        missing = sorted(k for k in used | computed if k not in catalog(lang))
        assert missing == [], (lang, missing)


def test_every_refusal_of_alerts_is_explained_in_both_languages() -> None:
    raised = re.compile(r"""(?:InvalidInput|NotFound|Forbidden|Conflict|AlreadyAcknowledged)\(\s*["']([a-z_]+)["']""")
    sources = [SRC / "core" / "care" / "alert.py", *(SRC / "app" / "care").glob("alert*.py")]
    code = "".join(p.read_text() for p in sources)
    codes = set(raised.findall(code))
    assert {"alert_not_found", "alert_already_acknowledged", "alert_not_yours", "alert_target_invalid"} <= codes
    for lang in ("fr", "en"):
        assert sorted(c for c in codes if c not in catalog(lang)) == [], lang
