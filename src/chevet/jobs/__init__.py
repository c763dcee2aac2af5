"""Background work run by the server or on demand from the CLI."""
