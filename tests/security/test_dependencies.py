"""Known vulnerabilities in the installed dependencies.

pip-audit asks PyPI's per-release JSON for advisories. Where a registry mirror only serves the
per-project JSON (whose ``vulnerabilities`` describe the latest release), a package installed at
its latest release is checked there instead, and one that is not is reported as unaudited.
A known vulnerability fails the test; so does, in CI, being unable to audit anything at all."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import httpx
import pytest

from tests.support import IN_CI


def _project_advisories(name: str, version: str) -> list[str] | None:
    """Advisory ids for ``name==version`` from the per-project JSON, None if it cannot tell."""
    try:
        r = httpx.get(f"https://pypi.org/pypi/{name}/json", timeout=15)
    except httpx.HTTPError:
        return None
    if r.status_code != 200:
        return None
    data = r.json()
    if data.get("info", {}).get("version") != version:
        return None
    return [str(v.get("id")) for v in data.get("vulnerabilities") or []]


def test_no_known_vulnerability_in_dependencies() -> None:
    audit = Path(sys.executable).with_name("pip-audit")
    try:
        done = subprocess.run([str(audit), "--skip-editable", "--progress-spinner", "off", "-f", "json"],
                              capture_output=True, text=True, timeout=300)
        report = json.loads(done.stdout or "{}")
    except (OSError, subprocess.TimeoutExpired, json.JSONDecodeError):
        report = {}
    deps = report.get("dependencies", [])
    if not deps:
        if IN_CI:
            pytest.fail("pip-audit could not run")
        pytest.skip("pip-audit could not run (PyPI unreachable)")
    vulnerable: dict[str, list[str]] = {}
    audited, unaudited = 0, []
    for dep in deps:
        name = dep["name"]
        try:
            version = dep.get("version") or metadata.version(name)
        except metadata.PackageNotFoundError:
            version = ""
        if "skip_reason" not in dep:
            audited += 1
            if dep.get("vulns"):
                vulnerable[f"{name}=={version}"] = [v["id"] for v in dep["vulns"]]
            continue
        found = _project_advisories(name, version)
        if found is None:
            unaudited.append(f"{name}=={version}")
            continue
        audited += 1
        if found:
            vulnerable[f"{name}=={version}"] = found
    print(f"dependency audit: {len(deps)} packages, {audited} audited, {len(unaudited)} not auditable, "
          f"{len(vulnerable)} vulnerable")
    if audited == 0:
        if IN_CI:
            pytest.fail("no dependency could be audited: PyPI's advisory data is unreachable")
        pytest.skip("no dependency could be audited: PyPI's advisory data is unreachable")
    assert not vulnerable, vulnerable
