"""Command groups of the ``chevet`` CLI. Each module here that defines ``app`` (a Typer) and
``NAME`` is added as ``chevet NAME …`` automatically."""
