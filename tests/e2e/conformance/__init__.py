"""The REST conformance suite: the seed's whole contract against any gateway (see conftest.py)."""
