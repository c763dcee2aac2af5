"""FastAPI application: JSON API, realtime stream (and later the server-rendered pages)."""
