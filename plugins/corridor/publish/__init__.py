"""Releases: immutable folders of published indicators (spec/indicators.md)."""
