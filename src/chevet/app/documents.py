"""The one Jinja environment for the documents the application writes itself: a person's
subject-access export, the processing register, the HTML browse inside an archive. (The web
client's pages have theirs, with its layout, in ``chevet.web.pages.page``.)

It lives in ``app``, beside the actions that write these documents: ``app`` may not import
``web``, and a document reads the same whether it comes from the API, the command line or a
job, with no request, layout or static file behind it. Autoescaping is on for every template,
those built from a string included."""

from __future__ import annotations

from jinja2 import Environment, Template, select_autoescape

ENVIRONMENT = Environment(autoescape=select_autoescape(default=True, default_for_string=True))


def document(source: str) -> Template:
    """A document's template, from the source kept beside the action that fills it."""
    return ENVIRONMENT.from_string(source)
