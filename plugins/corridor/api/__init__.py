"""The consumer API (``corridor serve``): SDMX REST over the published releases.

``app`` builds the FastAPI application, ``query`` parses what a request asks for,
``releases`` finds the visible releases and streams their rows, ``consumers`` keeps the
keys (salted hashes only).
"""
