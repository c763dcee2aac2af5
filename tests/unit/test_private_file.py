"""Key files are refused when missing or readable by other users, with a sentence that says what to do."""

from __future__ import annotations

from pathlib import Path

import pytest

from chevet.adapters.audit_key import AuditKeyError, AuditKeyFile
from chevet.adapters.keys import KeyFileError, read_key_file
from chevet.adapters.private_file import read_private


def test_a_private_file_is_read_only_when_its_owner_alone_may(tmp_path: Path) -> None:
    path = tmp_path / "secret"
    with pytest.raises(KeyFileError, match=r"not found.*chevet init"):
        read_private(path, "master key file", KeyFileError)
    path.write_text("x")
    path.chmod(0o644)
    with pytest.raises(KeyFileError, match="readable by others: chmod 600"):
        read_private(path, "master key file", KeyFileError)
    path.chmod(0o600)
    assert read_private(path, "master key file", KeyFileError) == "x"


def test_both_key_files_are_held_to_it(tmp_path: Path) -> None:
    path = tmp_path / "key"
    path.write_text("anything")
    path.chmod(0o640)
    with pytest.raises(KeyFileError, match="master key file"):
        read_key_file(path)
    with pytest.raises(AuditKeyError, match="audit key file"):
        AuditKeyFile(path)
