"""The composition root's parts: where settings meet connectors and the upload queue.

Only this package, ``adapter.bootstrap`` and ``adapter.cli`` may import ``connectors`` and
``upload_queue`` (an import-linter contract says so).
"""
