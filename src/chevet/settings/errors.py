"""Settings errors: sentences naming the setting and saying what is wrong."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import ValidationError


class SettingsError(Exception):
    pass


def problems(exc: ValidationError, given_as: Mapping[tuple[str, ...], str] | None = None) -> str:
    """One ``setting: what is wrong`` per error; a setting given by its flat name is quoted so too:
    ``http.max_headers (http_max_headers): …``."""
    out = []
    for error in exc.errors():
        loc = tuple(str(p) for p in error["loc"])
        name = ".".join(loc)
        flat = [f for path, f in (given_as or {}).items() if loc and path[:len(loc)] == loc]
        if flat:
            name += f" ({', '.join(sorted(flat))})"
        out.append(f"{name}: {error['msg']}")
    return "; ".join(out)
