"""Imports a CSV or Parquet bar file into the catalog over gRPC, like `PUT /api/v1/market-data/...`.

    python -m services.catalog.import_bars FILE --symbol AAPL --timeframe 1d [--append] [--catalog 127.0.0.1:50051]

The file streams through UploadBars (or AppendBars with --append) in 1 MiB
messages, read from disk as they go: any size, in constant memory.

The catalog's address comes from --catalog, else CATALOG_ADDR, else 127.0.0.1:50051.

Prints the stored series' summary as JSON. A file the catalog rejects exits
with status 2 and prints each field violation on stderr; any other failure
exits with status 1.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Iterator
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
CHUNK_BYTES = 1024 * 1024  # one message of the upload stream
IMPORT_TIMEOUT_S = 3600.0  # a 1 GB file takes about a minute; a stuck server should not hang make up for ever


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
    """A channel to the catalog that can carry a message as large as the server accepts (ImportBars' whole file)."""
    return grpc.insecure_channel(address, options=[("grpc.max_send_message_length", MAX_MESSAGE_BYTES)])


def import_file(
    stub: catalog_pb2_grpc.CatalogServiceStub, symbol: str, timeframe: str, data: bytes, content_type: str
) -> backtest_pb2.SeriesSummary:
    """Uploads one file held in memory through UploadBars; platform errors come back as PlatformError.

    stub: a catalog client.
    symbol: ticker to store the bars under.
    timeframe: bar size, one of 1m, 5m, 15m, 1h, 1d, 1w.
    data: the file's bytes.
    content_type: text/csv, application/vnd.apache.parquet or application/octet-stream.
    """
    pieces = (data[i : i + CHUNK_BYTES] for i in range(0, max(len(data), 1), CHUNK_BYTES))
    return upload(stub, symbol, timeframe, pieces, content_type)


def upload(
    stub: catalog_pb2_grpc.CatalogServiceStub,
    symbol: str,
    timeframe: str,
    chunks: Iterable[bytes],
    content_type: str,
    *,
    append: bool = False,
) -> backtest_pb2.SeriesSummary:
    """Streams a file through UploadBars (replacing the series) or AppendBars; errors as PlatformError.

    chunks: the file in pieces, read as they are sent (a file on disk is never held whole).
    append: add the bars after the series' last one instead of replacing it.
    """
    kind = catalog_pb2.AppendBarsRequest if append else catalog_pb2.UploadBarsRequest

    def messages() -> Iterator:
        first = True
        for chunk in chunks:
            if first:
                body = httpbody_pb2.HttpBody(content_type=content_type, data=chunk)
                yield kind(symbol=symbol, timeframe=timeframe, file=body)
                first = False
            else:
                yield kind(file=httpbody_pb2.HttpBody(data=chunk))
        if first:  # an empty file still names its series
            yield kind(symbol=symbol, timeframe=timeframe, file=httpbody_pb2.HttpBody(content_type=content_type))

    call = stub.AppendBars if append else stub.UploadBars
    try:
        return call(messages(), timeout=IMPORT_TIMEOUT_S)
    except grpc.RpcError as err:
        raise from_rpc_error(err) from None


def read_chunks(path: Path, chunk_bytes: int = CHUNK_BYTES) -> Iterator[bytes]:
    """The file at `path` in pieces, read as they are asked for."""
    with path.open("rb") as fh:
        while chunk := fh.read(chunk_bytes):
            yield chunk


def content_type_of(path: Path) -> str:
    """The media type a bar file's extension says; octet-stream (the catalog sniffs) otherwise."""
    return _TYPES.get(path.suffix.lower(), "application/octet-stream")


def summary_json(summary: backtest_pb2.SeriesSummary) -> dict:
    """The summary as the REST gateway prints it: field names as in the proto, zeros included."""
    return MessageToDict(summary, preserving_proto_field_name=True, always_print_fields_with_no_presence=True)


def main(argv: list[str] | None = None) -> int:
    """Runs the command line; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m services.catalog.import_bars", description=__doc__.splitlines()[0])
    parser.add_argument("file", type=Path, help="CSV or Parquet: timestamp (or date), open, high, low, close, volume")
    parser.add_argument("--symbol", required=True, help="ticker, e.g. AAPL")
    parser.add_argument("--timeframe", required=True, help="bar size: 1m, 5m, 15m, 1h, 1d or 1w")
    parser.add_argument(
        "--append", action="store_true", help="add bars after the series' last one instead of replacing it"
    )
    parser.add_argument("--catalog", default=default_catalog(), help="catalog gRPC address (default %(default)s)")
    args = parser.parse_args(argv)
    if not args.file.is_file():
        print(f"cannot read {args.file}: no such file", file=sys.stderr)
        return 1
    with catalog_channel(args.catalog) as channel:
        try:
            stub = catalog_pb2_grpc.CatalogServiceStub(channel)
            chunks = read_chunks(args.file)
            summary = upload(stub, args.symbol, args.timeframe, chunks, content_type_of(args.file), append=args.append)
        except OSError as err:
            print(f"cannot read {args.file}: {err.strerror}", file=sys.stderr)
            return 1
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
