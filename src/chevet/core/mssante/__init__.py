"""MSSanté, the French health trust space for secure e-mail: sans-I/O building and parsing.

Everything here works on bytes and values only (no sockets, no files, no asyncio), so that
the same code serves the SMTP/IMAP clients, the SMTP listener, the tests and the CLI.
"""
