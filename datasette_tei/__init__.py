"""Datasette plugin hooks for datasette-tei."""
