"""The work-injury cross-province direct-settlement adapter (工伤保险跨省异地就医直接结算)."""

__version__ = "0.1.0"
