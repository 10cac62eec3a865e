"""Adapters to the world outside the domain: object store, job bus, market-data files, engines, artifact encodings."""
