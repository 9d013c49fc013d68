"""Alembic migrations (a package so setuptools ships them; Alembic itself never imports this)."""
