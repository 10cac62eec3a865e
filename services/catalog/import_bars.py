"""Imports a CSV or Parquet bar file into the catalog over gRPC, like `PUT /api/v1/market-data/...`.

    python -m services.catalog.import_bars FILE --symbol AAPL --timeframe 1d [--catalog 127.0.0.1:50051]

The catalog's address comes from --catalog, else CATALOG_ADDR, else 127.0.0.1:50051.

Prints the stored series' summary as JSON. A file the catalog rejects exits
with status 2 and prints each field violation on stderr; any other failure
exits with status 1.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import grpc
from google.api import httpbody_pb2
from google.protobuf.json_format import MessageToDict

from backtest.v1 import backtest_pb2, catalog_pb2, catalog_pb2_grpc
from services.adapters.market_data import PARQUET_TYPE
from services.domain.errors import PlatformError, ValidationError
from services.kit.grpc_server import MAX_MESSAGE_BYTES
from services.kit.settings import SettingsError, load_settings, parse_listen, setting
from services.kit.status import from_rpc_error

DEFAULT_CATALOG = "127.0.0.1:50051"
# By extension; anything else goes as octet-stream and the catalog sniffs it.
_TYPES = {".csv": "text/csv", ".parquet": PARQUET_TYPE, ".pq": PARQUET_TYPE}
_ENVELOPE_BYTES = 1024  # room for symbol, timeframe and content type beside the file
IMPORT_TIMEOUT_S = 300.0  # a million-bar file takes a few seconds; a stuck server should not hang make up


@dataclass(frozen=True)
class ClientSettings:
    """What the import tools read from the environment.

    catalog_addr: host:port of the catalog's gRPC server (the embedded launcher sets it).
    """

    catalog_addr: str = setting("CATALOG_ADDR", default=DEFAULT_CATALOG, parse=parse_listen)


def default_catalog() -> str:
    """CATALOG_ADDR, or the catalog's default port on this machine; exits naming a malformed variable."""
    try:
        return load_settings(ClientSettings).catalog_addr
    except SettingsError as err:
        sys.exit(str(err))


def catalog_channel(address: str) -> grpc.Channel:
    """A channel to the catalog that can carry a file as large as the server accepts."""
    return grpc.insecure_channel(address, options=[("grpc.max_send_message_length", MAX_MESSAGE_BYTES)])


def import_file(
    stub: catalog_pb2_grpc.CatalogServiceStub, symbol: str, timeframe: str, data: bytes, content_type: str
) -> backtest_pb2.SeriesSummary:
    """Sends one file through ImportBars; platform errors come back as PlatformError.

    stub: a catalog client.
    symbol: ticker to store the bars under.
    timeframe: bar size, one of 1m, 5m, 15m, 1h, 1d, 1w.
    data: the file's bytes.
    content_type: text/csv, application/vnd.apache.parquet or application/octet-stream.
    """
    request = catalog_pb2.ImportBarsRequest(
        symbol=symbol, timeframe=timeframe, file=httpbody_pb2.HttpBody(content_type=content_type, data=data)
    )
    try:
        return stub.ImportBars(request, timeout=IMPORT_TIMEOUT_S)
    except grpc.RpcError as err:
        raise from_rpc_error(err) from None


def summary_json(summary: backtest_pb2.SeriesSummary) -> dict:
    """The summary as the REST gateway prints it: field names as in the proto, zeros included."""
    return MessageToDict(summary, preserving_proto_field_name=True, always_print_fields_with_no_presence=True)


def main(argv: list[str] | None = None) -> int:
    """Runs the command line; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m services.catalog.import_bars", description=__doc__.splitlines()[0])
    parser.add_argument("file", type=Path, help="CSV or Parquet: timestamp (or date), open, high, low, close, volume")
    parser.add_argument("--symbol", required=True, help="ticker, e.g. AAPL")
    parser.add_argument("--timeframe", required=True, help="bar size: 1m, 5m, 15m, 1h, 1d or 1w")
    parser.add_argument("--catalog", default=default_catalog(), help="catalog gRPC address (default %(default)s)")
    args = parser.parse_args(argv)
    try:
        data = args.file.read_bytes()
    except OSError as err:
        print(f"cannot read {args.file}: {err.strerror}", file=sys.stderr)
        return 1
    if len(data) > MAX_MESSAGE_BYTES - _ENVELOPE_BYTES:
        print(
            f"{args.file} is {len(data) / 2**20:.0f} MiB; an import carries at most "
            f"{MAX_MESSAGE_BYTES // 2**20} MiB: store it as Parquet, which is several times smaller",
            file=sys.stderr,
        )
        return 2
    content_type = _TYPES.get(args.file.suffix.lower(), "application/octet-stream")
    with catalog_channel(args.catalog) as channel:
        try:
            summary = import_file(
                catalog_pb2_grpc.CatalogServiceStub(channel), args.symbol, args.timeframe, data, content_type
            )
        except ValidationError as err:
            for violation in err.violations:
                print(f"{violation.field}: {violation.description}", file=sys.stderr)
            return 2
        except PlatformError as err:
            print(f"import failed: {err.message}", file=sys.stderr)
            return 1
    print(json.dumps(summary_json(summary), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
