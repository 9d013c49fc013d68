"""Reproducible benchmarks: `make bench` (python -m benchmarks). Not part of the test suite."""
