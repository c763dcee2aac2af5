"""Write the evidence table of docs/compliance.md from src/chevet/core/evidence.py and the
French catalog: `PYTHONPATH=src python tools/compliance_table.py`. A test fails whenever the
document and the data disagree."""

from __future__ import annotations

import sys
from pathlib import Path

from chevet.core import evidence
from chevet.web.i18n import gettext

DOC = Path(__file__).resolve().parents[1] / "docs" / "compliance.md"


def main() -> int:
    text = DOC.read_text(encoding="utf-8")
    start, end = text.index(evidence.BEGIN), text.index(evidence.END) + len(evidence.END)
    table = evidence.markdown(lambda key: gettext(key, "fr"))
    DOC.write_text(text[:start] + table + text[end:], encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
