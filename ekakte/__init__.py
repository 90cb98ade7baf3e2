"""ekakte: the archive behind an electronic case file (E-Akte) for SGB II job centres."""

__version__ = "0.1.0"
