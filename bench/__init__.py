"""Benchmarks of the platform: `python -m bench` (see bench/__main__.py)."""

# The bench starts servers from a process that uses gRPC: deploy.embedded
# turns grpcio's fork handlers off, which works only before grpc is first
# imported (see deploy/embedded/__init__.py), so it comes first.
import deploy.embedded  # noqa: F401
