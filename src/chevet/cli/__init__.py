"""The `chevet` command."""
