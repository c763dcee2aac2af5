"""What the code imports is what pyproject.toml declares, and the other way round: a
dependency that only arrives through another one can vanish with that one's next release, and a
declared one that nothing uses is installed on every server for nothing."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src" / "chevet"

# Declared but never imported by name, each for a reason.
LOADED_INDIRECTLY = {
    "aiosqlite": "SQLAlchemy's SQLite driver, chosen by the database URL",
    "asyncpg": "SQLAlchemy's PostgreSQL driver, chosen by the database URL",
}


# Imported by name but part of a declared package, which pins its exact version.
PART_OF = {"pydantic-core": "pydantic"}


def _name(requirement: str) -> str:
    return re.sub(r"[-_.]+", "-", re.split(r"[\[<>=!~; ]", requirement, maxsplit=1)[0]).lower()


def _declared() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return {_name(r) for r in project["dependencies"]}


def _imported_modules() -> set[str]:
    found: set[str] = set()
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return found - set(sys.stdlib_module_names) - {"chevet", "__future__"}


def _distributions(modules: set[str]) -> set[str]:
    owners = metadata.packages_distributions()
    missing = sorted(m for m in modules if m not in owners)
    assert not missing, f"imported modules that no installed distribution provides: {missing}"
    return {_name(d) for m in modules for d in owners[m]}


def test_every_imported_distribution_is_declared() -> None:
    undeclared = _distributions(_imported_modules()) - _declared() - set(PART_OF)
    assert not undeclared, f"imported by src/chevet but not declared in pyproject.toml: {sorted(undeclared)}"


def test_every_declared_dependency_is_used() -> None:
    unused = _declared() - _distributions(_imported_modules()) - set(LOADED_INDIRECTLY)
    assert not unused, f"declared in pyproject.toml but imported nowhere in src/chevet: {sorted(unused)}"
