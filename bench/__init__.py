"""Chevet load benchmarks: a load generator that runs real ``chevet serve`` processes and drives
them over the public HTTP API and the WebSocket stream, from a separate client process.

Run with ``./run.sh bench --help``; the figures and the commands that produced them are in
``docs/performance.md``. Benchmarks are not tests: nothing here asserts on speed.
"""
