"""COPY-based idempotent unit loads into the raw schema."""
