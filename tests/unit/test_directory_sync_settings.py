"""``[directory_sync]``: the TOML form with its mappings, the password kept out of sight, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from chevet.bootstrap.directory_sync import options_from
from chevet.core.roles import Role
from chevet.settings import SettingsError, load_settings

TOML = '''[directory_sync]
organisation = "ehpad-tilleuls"
url = "ldaps://dc01.tilleuls.local:636"
bind_dn = "CN=svc-chevet,DC=tilleuls,DC=local"
base_dn = "OU=Personnel,DC=tilleuls,DC=local"

[directory_sync.group_roles]
"CN=GG-Infirmieres,DC=tilleuls,DC=local" = "nurse"

[directory_sync.group_teams]
"CN=GG-Nuit,DC=tilleuls,DC=local" = "Équipe de nuit"
'''


def test_toml_with_mappings_and_the_password_from_the_environment(tmp_path: Path) -> None:
    (tmp_path / "chevet.toml").write_text(TOML)
    s = load_settings(tmp_path, environ={"CHEVET_DIRECTORY_SYNC__PASSWORD": "tres-secret"})
    assert s.directory_sync.enabled and s.directory_sync.bind_password() == "tres-secret"
    assert "tres-secret" not in repr(s)
    options = options_from(s)
    assert options.mapping.group_roles == {"CN=GG-Infirmieres,DC=tilleuls,DC=local": Role.NURSE}
    assert options.max_leave_percent == 20


def test_password_from_a_file(tmp_path: Path) -> None:
    (tmp_path / "chevet.toml").write_text(TOML)
    (tmp_path / "pw").write_text("depuis-un-fichier\n")
    s = load_settings(tmp_path, environ={"CHEVET_DIRECTORY_SYNC__PASSWORD_FILE": str(tmp_path / "pw")})
    assert s.directory_sync.bind_password() == "depuis-un-fichier"


@pytest.mark.parametrize(("extra", "words"), [
    ({"CHEVET_DIRECTORY_SYNC__URL": "http://dc01"}, "ldap://"),
    ({"CHEVET_DIRECTORY_SYNC__GROUP_ROLES": '{"cn=x": "chef"}'}, "unknown role"),
])
def test_wrong_values_are_named(tmp_path: Path, extra: dict[str, str], words: str) -> None:
    (tmp_path / "chevet.toml").write_text(TOML.split("\n\n")[0] + "\n")
    with pytest.raises(SettingsError) as caught:
        load_settings(tmp_path, environ=extra)
    assert words in str(caught.value)
