"""Alembic migrations of the ekakte schema (installed as ekakte.migrations)."""
