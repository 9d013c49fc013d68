"""Tooling run by engineers and IT, not shipped in the package (see scripts/soak/README.md)."""
