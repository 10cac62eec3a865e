"""Benchmarks of the platform: `python -m bench` (see bench/__main__.py)."""
