"""The desks' pages, one module per desk; each has a ``router``."""
