"""Alembic revisions (a package so setuptools ships them; Alembic skips ``__init__.py``)."""
