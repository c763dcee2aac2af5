"""Where settings come from, besides the defaults and the command line: the ``chevet.toml`` file
and the ``CHEVET_*`` variables, each read by pydantic-settings and accepting the flat names."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic_settings import EnvSettingsSource, TomlConfigSettingsSource

from chevet.settings.errors import SettingsError
from chevet.settings.flat_names import FLAT_NAMES, NESTED_DELIMITER, SettingPath, nest

if TYPE_CHECKING:
    from pydantic_settings import BaseSettings

ENV_PREFIX = "CHEVET_"


class ConfigFile(TomlConfigSettingsSource):
    """``chevet.toml``: sections (``[server] port = 8443``) or flat names (``port = 8443``)."""

    def __init__(self, settings_cls: type[BaseSettings], path: Path) -> None:
        self.path = path
        self.given_as: dict[SettingPath, str] = {}
        super().__init__(settings_cls, toml_file=path)

    def _read_file(self, file_path: Any) -> dict[str, Any]:
        try:
            values = super()._read_file(file_path)
        except tomllib.TOMLDecodeError as exc:
            raise SettingsError(f"{self.path}: not valid TOML ({exc})") from exc
        nested, self.given_as = nest(values, str(self.path))
        return nested


class Environment(EnvSettingsSource):
    """``CHEVET_SERVER__PORT`` (section, two underscores, name) or ``CHEVET_PORT`` (flat name).
    Empty variables count as unset."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        self.environ = environ
        self.given_as: dict[SettingPath, str] = {}
        super().__init__(settings_cls, case_sensitive=False, env_prefix=ENV_PREFIX,
                         env_nested_delimiter=NESTED_DELIMITER, env_ignore_empty=True)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        values = {name[len(ENV_PREFIX):].lower(): value for name, value in self.environ.items()
                  if name.upper().startswith(ENV_PREFIX) and value != ""}
        out = {name: value for name, value in values.items() if name not in FLAT_NAMES}
        for name in values.keys() & FLAT_NAMES.keys():
            path = tuple(FLAT_NAMES[name].split("."))
            key = NESTED_DELIMITER.join(path)
            if key in out:
                raise SettingsError(f"CHEVET_* variables: {'.'.join(path)} is given twice "
                                    f"(as {ENV_PREFIX}{name.upper()} and {ENV_PREFIX}{key.upper()})")
            out[key] = values[name]
            self.given_as[path] = name
        return {f"{ENV_PREFIX.lower()}{k}": v for k, v in out.items()}
