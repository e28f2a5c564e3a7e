"""Corridor: trade and logistics indicators for the Eurasian transport corridors."""

__version__ = "0.1.0"
