"""What the OpenAPI document says each operation answers when it refuses: a problem (RFC 9457,
``web.problems.Problem``) under ``application/problem+json``, for each status it can answer.

The statuses that follow from what a route takes are declared here once, from the route
itself: every operation may be refused as invalid (422) or find a part of the installation
not answering (503); one that needs a signed-in caller answers 401 and 403; one with a body,
400 (not JSON) and 413 (too large); one with an identifier in its path, 404. A route declares
the others it can answer (409, 413, 416, 429) with ``responses=refusals(...)``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from chevet.web import deps
from chevet.web.problems import Problem

PROBLEM_MEDIA_TYPE = "application/problem+json"

_WHY = {
    400: "The body is not JSON",
    401: "Not signed in, or the session has ended",
    403: "The caller may not do this",
    404: "Not found (or not visible to the caller)",
    409: "In conflict with the current state",
    413: "Too large",
    416: "The range asked for is not in the file",
    422: "Invalid request: ``fields`` names the wrong fields",
    429: "Too many attempts: retry after ``Retry-After`` seconds",
    503: "A part of the installation does not answer: retry after ``Retry-After`` seconds",
}


_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}


def refusals(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` of a route for these statuses: each a problem document."""
    return {status: {"description": _WHY[status], "content": {PROBLEM_MEDIA_TYPE: {"schema": _PROBLEM_REF}}}
            for status in statuses}


def answers(*media_types: str, text: bool = False,
            description: str = "Successful Response") -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` of a route whose success (200) is a file or a text (CSV, SVG, HTML)
    rather than, or besides, JSON."""
    schema = {"type": "string"} if text else {"type": "string", "format": "binary"}
    return {200: {"description": description, "content": {m: {"schema": schema} for m in media_types}}}


DOWNLOAD = answers("application/octet-stream", description="The file, or the range asked for (206)") | refusals(416)
"""A stored file, decrypted, whole or in part."""


def _needs_actor(dependant: Dependant) -> bool:
    return any(d.call is deps.actor or _needs_actor(d) for d in dependant.dependencies)


def statuses_of(route: APIRoute) -> list[int]:
    found = [422, 503]
    if _needs_actor(route.dependant):
        found += [401, 403]
    if route.body_field is not None:
        found += [400, 413]
    if route.dependant.path_params:
        found.append(404)
    return sorted(found)


def declare_refusals(router: APIRouter) -> None:
    """Adds to each route of ``router`` the refusals that follow from what it takes (before
    the router is included: inclusion copies the routes' responses)."""
    for route in router.routes:
        if isinstance(route, APIRoute):
            declared = refusals(*(s for s in statuses_of(route) if s not in route.responses))
            route.responses = {**declared, **route.responses}


def complete(document: dict[str, Any]) -> None:
    """Adds the schema the refusals refer to (FastAPI only adds those of models it serialises)."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas["Problem"] = Problem.model_json_schema(ref_template="#/components/schemas/{model}", mode="serialization")
