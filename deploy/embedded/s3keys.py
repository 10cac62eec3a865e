"""The S3 identity: keys generated once and kept in the data directory, and the file weed reads them from."""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Credentials:
    """The one S3 identity the platform uses."""

    access_key: str
    """Access key id."""
    secret_key: str
    """Secret access key."""


def load_credentials(data_dir: Path) -> Credentials:
    """The keys stored in `data_dir`, generated on first use so that they survive restarts.

    data_dir: the S3 data directory.
    """
    path = data_dir / "credentials.json"
    if not path.exists():
        fresh = {"access_key": "bt" + secrets.token_hex(9), "secret_key": secrets.token_urlsafe(30)}
        write_private(path, json.dumps(fresh, indent=2))
    stored = json.loads(path.read_text())
    return Credentials(access_key=stored["access_key"], secret_key=stored["secret_key"])


def write_identities(path: Path, credentials: Credentials) -> None:
    """Write weed's S3 identities file: this one identity may do everything; nobody else anything.

    path: the file weed reads (its -s3.config).
    credentials: the keys of the identity.
    """
    config = {
        "identities": [
            {
                "name": "backtest",
                "credentials": [{"accessKey": credentials.access_key, "secretKey": credentials.secret_key}],
                "actions": ["Admin", "Read", "List", "Tagging", "Write"],
            }
        ]
    }
    write_private(path, json.dumps(config, indent=2))


def write_private(path: Path, text: str) -> None:
    """Replace `path` with `text`, readable by its owner only from the first byte, atomically.

    path: the file to write.
    text: its new content.
    """
    scratch = path.with_name(path.name + ".tmp")
    scratch.unlink(missing_ok=True)
    fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    scratch.replace(path)
