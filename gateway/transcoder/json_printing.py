"""Prints messages as JSON the way Envoy's transcoder does, honouring its print options.

DESIGN.md's options (gateway/print_options.json): proto field names, fields
without presence printed even when zero or empty, enums as names, compact.

Envoy prints with protobuf's C++ printer, whose output differs from Python's
json_format in ways clients can see, hence this printer rather than
json_format: numbers print as C++ prints them (see json_scalars), fields come
out in declaration order, map keys sorted. Writers are built once per
message type and cached, so a request does no descriptor work.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from google.protobuf import descriptor, message

from gateway.transcoder.descriptors import STRING_TYPES, WRAPPER_TYPES, DescriptorSet
from gateway.transcoder.errors import JsonPrintError
from gateway.transcoder.json_scalars import escape, format_double, map_key, scalar_writer, write_bool, write_int32
from gateway.transcoder.print_options import PrintOptions

F = descriptor.FieldDescriptor
Out = list[str]
Writer = Callable[[object, Out], None]

# Types an Any shows under "value" instead of inlining their fields.
_STRUCT_TYPES = frozenset(("google.protobuf.Struct", "google.protobuf.Value", "google.protobuf.ListValue"))
_NOT_INLINED = WRAPPER_TYPES | STRING_TYPES | _STRUCT_TYPES


# How a field decides whether it is printed.
_IF_SET, _ALWAYS, _IF_NOT_EMPTY = "if_set", "always", "if_not_empty"


class JsonPrinter:
    """Prints messages of one descriptor set.

    descriptors: resolves the types named in google.protobuf.Any values.
    options: Envoy's print options (add_whitespace is not supported).
    """

    def __init__(self, descriptors: DescriptorSet, options: PrintOptions) -> None:
        self._descriptors = descriptors
        self._options = options
        self._writers: dict[str, Writer] = {}

    def dumps(self, msg: message.Message) -> str:
        """The message as compact JSON; JsonPrintError when it cannot be printed."""
        out: Out = []
        try:
            self.writer(msg.DESCRIPTOR)(msg, out)
        except (ValueError, KeyError, message.DecodeError) as exc:  # bad Timestamp, unknown or corrupt Any
            raise JsonPrintError(str(exc)) from exc
        return "".join(out)

    def prepare(self, desc: descriptor.Descriptor) -> None:
        """Builds the writers of `desc` and every type it contains now rather than on first use."""
        pending, seen = [desc], set()
        while pending:
            current = pending.pop()
            if current.full_name in seen:
                continue
            seen.add(current.full_name)
            self.writer(current)
            pending.extend(f.message_type for f in current.fields if f.message_type is not None)

    def writer(self, desc: descriptor.Descriptor) -> Writer:
        """The cached writer of a message type."""
        writer = self._writers.get(desc.full_name)
        if writer is None:
            writer = self._build(desc)
            self._writers[desc.full_name] = writer
        return writer

    def _build(self, desc: descriptor.Descriptor) -> Writer:
        name = desc.full_name
        if name in WRAPPER_TYPES:
            inner = self._value_writer(desc.fields_by_name["value"])
            return lambda msg, out: inner(msg.value, out)
        if name in STRING_TYPES:
            return lambda msg, out: out.append(escape(msg.ToJsonString()))
        if name == "google.protobuf.Struct":
            return self._write_struct
        if name == "google.protobuf.Value":
            return self._write_value
        if name == "google.protobuf.ListValue":
            return self._write_list_value
        if name == "google.protobuf.Any":
            return self._write_any
        return self._regular(desc)

    def _regular(self, desc: descriptor.Descriptor) -> Writer:
        # Without presence a field is "set" when not zero or empty, unless options say print anyway.
        no_presence = _ALWAYS if self._options.always_print_primitive_fields else _IF_NOT_EMPTY
        plan = []
        for field in desc.fields:
            key = '"%s":' % (field.name if self._options.preserve_proto_field_names else field.json_name)
            if field.message_type is not None and field.message_type.GetOptions().map_entry:
                key_of = map_key(field.message_type.fields_by_name["key"])
                value = self._value_writer(field.message_type.fields_by_name["value"])
                plan.append((key, field.name, self._map_writer(key_of, value), no_presence))
            elif field.is_repeated:
                plan.append((key, field.name, self._list_writer(self._value_writer(field)), no_presence))
            else:
                when = _IF_SET if field.has_presence else no_presence
                plan.append((key, field.name, self._value_writer(field), when))

        def write(msg: message.Message, out: Out) -> None:
            out.append("{")
            separator = ""
            for key, name, write_value, when in plan:
                if when is _IF_SET:
                    if not msg.HasField(name):
                        continue
                    value = getattr(msg, name)
                else:
                    value = getattr(msg, name)
                    if when is _IF_NOT_EMPTY and not value:
                        continue
                out.append(separator)
                out.append(key)
                write_value(value, out)
                separator = ","
            out.append("}")

        return write

    @staticmethod
    def _list_writer(item: Writer) -> Writer:
        def write(values, out: Out) -> None:
            out.append("[")
            separator = ""
            for value in values:
                out.append(separator)
                item(value, out)
                separator = ","
            out.append("]")

        return write

    @staticmethod
    def _map_writer(key_of: Callable[[object], str], item: Writer) -> Writer:
        def write(entries, out: Out) -> None:
            out.append("{")
            separator = ""
            for key in sorted(entries):
                out.append(separator)
                out.append(key_of(key) + ":")
                item(entries[key], out)
                separator = ","
            out.append("}")

        return write

    def _value_writer(self, field: descriptor.FieldDescriptor) -> Writer:
        kind = field.type
        if kind == F.TYPE_MESSAGE:
            sub = field.message_type
            return lambda msg, out: self.writer(sub)(msg, out)
        if kind == F.TYPE_ENUM:
            if field.enum_type.full_name == "google.protobuf.NullValue":
                return lambda value, out: out.append("null")
            if self._options.always_print_enums_as_ints:
                return write_int32
            names = {value.number: '"%s"' % value.name for value in field.enum_type.values}
            return lambda value, out: out.append(names.get(value) or "%d" % value)
        return scalar_writer(kind)

    def _write_struct(self, msg: message.Message, out: Out) -> None:
        out.append("{")
        separator = ""
        for key, value in sorted(msg.fields.items()):
            out.append(separator + escape(key) + ":")
            self._write_value(value, out)
            separator = ","
        out.append("}")

    def _write_list_value(self, msg: message.Message, out: Out) -> None:
        self._list_writer(self._write_value)(msg.values, out)

    def _write_value(self, msg: message.Message, out: Out) -> None:
        kind = msg.WhichOneof("kind")
        if kind == "number_value":
            number = msg.number_value
            if not math.isfinite(number):
                raise ValueError("google.protobuf.Value cannot hold NaN or Infinity")
            out.append(format_double(number))
        elif kind == "string_value":
            out.append(escape(msg.string_value))
        elif kind == "struct_value":
            self._write_struct(msg.struct_value, out)
        elif kind == "list_value":
            self._write_list_value(msg.list_value, out)
        elif kind == "bool_value":
            write_bool(msg.bool_value, out)
        else:  # null_value, or no kind set
            out.append("null")

    def _write_any(self, msg: message.Message, out: Out) -> None:
        if not msg.type_url and not msg.value:
            out.append("{}")
            return
        inner_type = self._descriptors.find_message(msg.type_url.rpartition("/")[2])
        if inner_type is None:
            raise KeyError(f"type {msg.type_url} is not in the descriptor set")
        inner = self._descriptors.message_class(inner_type).FromString(msg.value)
        head = '{"@type":' + escape(msg.type_url)
        body: Out = []
        self.writer(inner_type)(inner, body)
        if inner_type.full_name in _NOT_INLINED:
            out.append(head + ',"value":' + "".join(body) + "}")
        elif len(body) == 2:  # "{" "}": nothing but the type
            out.append(head + "}")
        else:
            out.append(head + "," + "".join(body[1:]))
