"""The composition root's parts: where settings meet connectors and the upload queue, and the
adapters that implement the services' ports on them.

Only this package, ``adapter.bootstrap``, ``adapter.demo`` and ``adapter.cli`` may import
``connectors`` and ``upload_queue`` (an import-linter contract says so).
"""
