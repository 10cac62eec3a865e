"""gateway/envoy.yaml parsed into Envoy's own `Bootstrap` message (the xds-protos package).

Envoy's API, compiled for Python, is the schema Envoy itself loads the file
with: an unknown or misspelt field, a value of the wrong type or an Any whose
`@type` names no message fails here as it would fail Envoy's startup.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from envoy.config.bootstrap.v3 import bootstrap_pb2
from google.protobuf import json_format, message

from tests.unit.deploy.proto_constraints import unpack_any


def type_urls(config: Any) -> set[str]:
    """Every `@type` named anywhere in a YAML document."""
    found: set[str] = set()
    if isinstance(config, dict):
        if isinstance(config.get("@type"), str):
            found.add(config["@type"])
        for value in config.values():
            found |= type_urls(value)
    elif isinstance(config, list):
        for item in config:
            found |= type_urls(item)
    return found


def register(type_url: str) -> None:
    """Imports the generated modules of the package that defines `type_url`'s message.

    A message's module is named after its .proto file, not the message, so
    every module of the package is imported; the types then resolve by name.
    """
    package = type_url.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return  # not an xds-protos package (google.protobuf types are always there)
    for location in spec.submodule_search_locations:
        for module in sorted(Path(location).glob("*_pb2.py")):
            importlib.import_module(f"{package}.{module.stem}")


def load_bootstrap(config: dict[str, Any]) -> bootstrap_pb2.Bootstrap:
    """The YAML document as a Bootstrap; unknown fields and unknown Any types raise ParseError."""
    for url in sorted(type_urls(config)):
        register(url)
    return json_format.ParseDict(config, bootstrap_pb2.Bootstrap(), ignore_unknown_fields=False)


def walk(msg: message.Message, path: str = "") -> Iterator[tuple[str, message.Message]]:
    """(path, message) for `msg` and every message inside it, Any contents unpacked."""
    if msg.DESCRIPTOR.full_name == "google.protobuf.Any":
        inner = unpack_any(msg)
        if inner is not None:
            yield from walk(inner, path)
        return
    yield path, msg
    for field, value in msg.ListFields():
        where = f"{path}.{field.name}" if path else field.name
        if field.type != field.TYPE_MESSAGE:
            continue
        if field.message_type.GetOptions().map_entry:
            value_field = field.message_type.fields_by_name["value"]
            if value_field.type == value_field.TYPE_MESSAGE:
                for key in value:
                    yield from walk(value[key], f"{where}[{key!r}]")
        elif field.is_repeated:
            for index, item in enumerate(value):
                yield from walk(item, f"{where}[{index}]")
        else:
            yield from walk(value, where)


def messages_of(msg: message.Message, full_name: str) -> list[tuple[str, message.Message]]:
    """(path, message) for every message of type `full_name` inside `msg`."""
    return [(path, m) for path, m in walk(msg) if m.DESCRIPTOR.full_name == full_name]
