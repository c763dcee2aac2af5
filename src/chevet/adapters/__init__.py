"""Implementations of the ports: database, keys, bus, password hashing."""
