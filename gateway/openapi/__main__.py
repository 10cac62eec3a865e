"""`python -m gateway.openapi DESCRIPTOR --out gen/openapi.json --docs gen/docs` (run by `make proto`)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from gateway.openapi.contract import Contract
from gateway.openapi.docs_page import write_docs_page
from gateway.openapi.document import build_document


def main(argv: list[str] | None = None) -> int:
    """Writes the OpenAPI document and the docs page; returns the exit code."""
    parser = argparse.ArgumentParser(prog="python -m gateway.openapi", description=__doc__)
    parser.add_argument("descriptor", type=Path, help="FileDescriptorSet with imports (gen/descriptor.binpb)")
    parser.add_argument("--out", type=Path, required=True, help="where to write the OpenAPI document")
    parser.add_argument("--docs", type=Path, required=True, help="directory for the interactive docs page")
    args = parser.parse_args(argv)
    document = build_document(Contract(args.descriptor))
    args.out.write_text(json.dumps(document, indent=1) + "\n")
    write_docs_page(args.docs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
