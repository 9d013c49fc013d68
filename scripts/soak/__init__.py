"""Soak runs: the reliability suite's crash and fault cases, repeated for minutes to hours.

``python -m scripts.soak.crash`` and ``python -m scripts.soak.load``; see README.md here.
"""
