"""Loads the descriptor set `make proto` writes, as Envoy's `proto_descriptor` does."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

# Registers the google.api.http extension: without it the option reads back empty.
from google.api import annotations_pb2, http_pb2
from google.protobuf import descriptor, descriptor_pb2, descriptor_pool, message, message_factory

from gateway.transcoder.errors import ConfigError

# The platform's own method option (protos/backtest/v1/http_options.proto): what Envoy's route table says
# per method (a stream without deadline), the local gateway reads from the contract.
REST_OPTIONS = "backtest.v1.rest"
# Well-known wrappers: in JSON they are the value they wrap.
WRAPPER_TYPES = frozenset(
    f"google.protobuf.{name}Value"
    for name in ("Double", "Float", "Int64", "UInt64", "Int32", "UInt32", "Bool", "String", "Bytes")
)
# Well-known types whose JSON form is one string (so a query parameter can set them too).
STRING_TYPES = frozenset(("google.protobuf.Timestamp", "google.protobuf.Duration", "google.protobuf.FieldMask"))


@dataclasses.dataclass(frozen=True)
class AnnotatedMethod:
    """One RPC and one of its HTTP rules (the main rule or an additional binding).

    method: the RPC's descriptor.
    rule: the HttpRule; its additional_bindings are listed as separate entries.
    """

    method: descriptor.MethodDescriptor
    rule: http_pb2.HttpRule


class DescriptorSet:
    """A descriptor pool built from a FileDescriptorSet, plus the lookups routing needs.

    path: the binary FileDescriptorSet; it must include imports (protoc --include_imports, buf build).
    """

    def __init__(self, path: str) -> None:
        try:
            with open(path, "rb") as handle:
                files = descriptor_pb2.FileDescriptorSet.FromString(handle.read())
        except (OSError, message.DecodeError) as exc:
            raise ConfigError(f"cannot read descriptor set {path}: {exc}") from exc
        self.pool = descriptor_pool.DescriptorPool()
        for file in files.file:
            try:
                self.pool.Add(file)
            except Exception as exc:  # upb raises TypeError, the pure-Python pool KeyError
                raise ConfigError(f"cannot load {file.name} from {path} (built without imports?): {exc}") from exc
        self._fields: dict[str, dict[str, descriptor.FieldDescriptor]] = {}

    def service(self, name: str) -> descriptor.ServiceDescriptor:
        """The service called `name`; ConfigError when the descriptor set lacks it (as Envoy fails)."""
        try:
            return self.pool.FindServiceByName(name)
        except KeyError:
            raise ConfigError(f"could not find {name!r} in the proto descriptor") from None

    def annotated_methods(self, service: descriptor.ServiceDescriptor) -> Iterator[AnnotatedMethod]:
        """Every (method, HTTP rule) pair of `service`; methods without the option have none."""
        for method in service.methods:
            options = method.GetOptions()
            if not options.HasExtension(annotations_pb2.http):
                continue
            rule = options.Extensions[annotations_pb2.http]
            yield AnnotatedMethod(method, rule)
            # Additional bindings do not nest: the spec ignores theirs.
            for extra in rule.additional_bindings:
                yield AnnotatedMethod(method, extra)

    def long_lived(self, method: descriptor.MethodDescriptor) -> bool:
        """Whether the method's backtest.v1.rest option marks it a long-lived stream (no deadline, as envoy.yaml).

        False when the option, or the set's definition of it, is absent (another API's descriptor set).
        """
        try:
            extension = self.pool.FindExtensionByName(REST_OPTIONS)
        except KeyError:
            return False
        options = method.GetOptions()
        kind = self.pool.FindMessageTypeByName(options.DESCRIPTOR.full_name)
        parsed = message_factory.GetMessageClass(kind).FromString(options.SerializeToString())
        if not parsed.HasExtension(extension):
            return False
        return bool(getattr(parsed.Extensions[extension], "long_lived", False))

    def message_class(self, desc: descriptor.Descriptor) -> type[message.Message]:
        """The generated class of a message type, built once from this pool."""
        return message_factory.GetMessageClass(desc)

    def find_message(self, full_name: str) -> descriptor.Descriptor | None:
        """The message type called `full_name`, or None when the set lacks it."""
        try:
            return self.pool.FindMessageTypeByName(full_name)
        except KeyError:
            return None

    def find_field(self, desc: descriptor.Descriptor, name: str) -> descriptor.FieldDescriptor | None:
        """The field of `desc` whose proto name or JSON name is `name`, as Envoy's TypeInfo finds it."""
        index = self._fields.get(desc.full_name)
        if index is None:
            index = {field.json_name: field for field in desc.fields}
            index.update({field.name: field for field in desc.fields})
            self._fields[desc.full_name] = index
        return index.get(name)
