"""The contract as the generator sees it: a descriptor pool, each method's REST rule, options and comments.

Custom options (google.api.http, backtest.v1.rest, backtest.v1.json_types)
are read back through the pool's own option types, so the descriptor set is
the only input: no generated module is imported.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from google.protobuf import descriptor, descriptor_pb2, descriptor_pool, message, message_factory

HTTP_RULE = "google.api.http"
REST_OPTIONS = "backtest.v1.rest"
JSON_TYPES = "backtest.v1.json_types"
_VARIABLE = re.compile(r"\{([^}=]+)(?:=[^}]*)?\}")
# FileDescriptorProto field numbers that make up source-location paths.
_MESSAGE, _NESTED, _FIELD, _SERVICE, _METHOD = 4, 3, 2, 6, 2


@dataclasses.dataclass(frozen=True)
class Binding:
    """One HTTP rule of one RPC (its main rule or an additional binding).

    service: the service descriptor.
    method: the RPC's descriptor.
    http_method: "get", "post", "put", "patch" or "delete".
    path: the OpenAPI path, `{a.b}` for every variable (a `=pattern` suffix dropped).
    variables: the field paths the path binds, in order.
    body: "" (no body), "*" (the whole request) or a field name.
    rest: the method's backtest.v1.rest options (an empty message when absent).
    """

    service: descriptor.ServiceDescriptor
    method: descriptor.MethodDescriptor
    http_method: str
    path: str
    variables: tuple[str, ...]
    body: str
    rest: Any


class Contract:
    """A FileDescriptorSet loaded into its own pool.

    path: the binary FileDescriptorSet with imports (`buf build`), as gen/descriptor.binpb.
    """

    def __init__(self, path: str | Path) -> None:
        self.files = descriptor_pb2.FileDescriptorSet.FromString(Path(path).read_bytes()).file
        self.pool = descriptor_pool.DescriptorPool()
        for file in self.files:
            self.pool.Add(file)
        self.comments = _comments(self.files)
        short = [name.rsplit(".", 1)[-1] for name in _message_names(self.files)]
        self._unique_short = {name for name in short if short.count(name) == 1}

    def component_name(self, message_type: descriptor.Descriptor) -> str:
        """The message's name in the document: its own name (Backtest, Status) unless two packages share it."""
        return message_type.name if message_type.name in self._unique_short else message_type.full_name

    def option(self, desc: Any, extension: str) -> Any:
        """The value of a custom option on a descriptor, or None when it is absent or unknown to the set."""
        try:
            ext = self.pool.FindExtensionByName(extension)
        except KeyError:
            return None
        options = desc.GetOptions()
        kind = self.pool.FindMessageTypeByName(options.DESCRIPTOR.full_name)
        parsed: message.Message = message_factory.GetMessageClass(kind).FromString(options.SerializeToString())
        if ext.is_repeated:
            return list(parsed.Extensions[ext])
        return parsed.Extensions[ext] if parsed.HasExtension(ext) else None

    def bindings(self) -> Iterator[Binding]:
        """Every REST binding of every service, in file and declaration order."""
        rest_type = self._rest_type()
        for file in self.files:
            for service_proto in file.service:
                service = self.pool.FindServiceByName(f"{file.package}.{service_proto.name}")
                for method in service.methods:
                    rule = self.option(method, HTTP_RULE)
                    if rule is None:
                        continue
                    rest = self.option(method, REST_OPTIONS) or rest_type()
                    for each in (rule, *rule.additional_bindings):
                        yield _binding(service, method, each, rest)

    def _rest_type(self):
        try:
            return message_factory.GetMessageClass(self.pool.FindExtensionByName(REST_OPTIONS).message_type)
        except KeyError:
            return lambda: None


def _binding(service, method, rule, rest) -> Binding:
    kind = rule.WhichOneof("pattern")
    http_method, template = (
        (rule.custom.kind.lower(), rule.custom.path) if kind == "custom" else (kind, getattr(rule, kind))
    )
    variables = tuple(match.group(1) for match in _VARIABLE.finditer(template))
    path = _VARIABLE.sub(lambda m: "{" + m.group(1) + "}", template)
    return Binding(service, method, http_method, path, variables, rule.body, rest)


def _comments(files) -> dict[str, str]:
    """Full name of each message, field, service and method -> its leading comment."""
    found: dict[str, str] = {}
    for file in files:
        by_path = {tuple(loc.path): loc.leading_comments.strip() for loc in file.source_code_info.location}

        _message_comments(file.message_type, file.package, (_MESSAGE,), by_path, found)
        for index, service in enumerate(file.service):
            name = f"{file.package}.{service.name}"
            found[name] = by_path.get((_SERVICE, index), "")
            for method_index, method in enumerate(service.method):
                found[f"{name}.{method.name}"] = by_path.get((_SERVICE, index, _METHOD, method_index), "")
    return {name: "\n".join(line.strip() for line in text.splitlines()) for name, text in found.items() if text}


def _message_comments(protos, prefix: str, path: tuple[int, ...], by_path: dict, found: dict[str, str]) -> None:
    for index, proto in enumerate(protos):
        name, where = f"{prefix}.{proto.name}", (*path, index)
        found[name] = by_path.get(where, "")
        for field_index, field in enumerate(proto.field):
            found[f"{name}.{field.name}"] = by_path.get((*where, _FIELD, field_index), "")
        _message_comments(proto.nested_type, name, (*where, _NESTED), by_path, found)


def _message_names(files) -> list[str]:
    names: list[str] = []

    def walk(protos, prefix: str) -> None:
        for proto in protos:
            names.append(f"{prefix}.{proto.name}")
            walk(proto.nested_type, f"{prefix}.{proto.name}")

    for file in files:
        walk(file.message_type, file.package)
    return names
