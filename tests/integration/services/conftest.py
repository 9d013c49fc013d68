"""The use-case tests' fixtures (see fixtures.py)."""

from tests.integration.services.fixtures import *  # noqa: F403
