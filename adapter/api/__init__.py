"""The REST face of the adapter (FastAPI)."""
