"""The server checks the database's revision against the migration heads without importing
Alembic (it would stay in memory); the light reading must agree with Alembic's own."""

from __future__ import annotations

from pathlib import Path

from alembic.config import Config
from alembic.script import ScriptDirectory

from chevet.adapters.db.database import MIGRATIONS, SqlDatabase


def test_heads_agree_with_alembic(tmp_path: Path) -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    expected = sorted(ScriptDirectory.from_config(cfg).get_heads())
    assert SqlDatabase(f"sqlite:///{tmp_path / 'x.db'}").heads() == expected
    assert len(expected) > 1  # features add their migrations beside each other
