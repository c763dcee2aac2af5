"""Pure domain: no framework, no database, no I/O."""
