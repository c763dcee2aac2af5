"""SQLAlchemy Core storage for SQLite (embedded default) and PostgreSQL (production)."""
