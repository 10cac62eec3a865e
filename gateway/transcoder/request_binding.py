"""Builds the gRPC request of an HTTP request: path variables, query parameters and body.

Envoy's rules, from grpc-httpjson-transcoding:
- Query parameters split on `&`; one without `=` or with an empty name is
  ignored; names split on `.` into nested fields (proto or JSON names); values
  are fully percent-decoded and `+` stays `+`. Repeated fields append.
- `body: "*"` takes the JSON as the whole request, `body: "field"` as that
  field; an empty body counts as `{}` and unknown JSON fields are ignored.
  A rule without a body still parses a body that is sent, as the whole request.
- A path or query binding to a singular field the JSON body also sets (under
  its proto name) is dropped: the body wins. Repeated fields get both, the
  bound values first.
- `google.api.HttpBody` bodies are not JSON: the raw bytes and the request's
  content type go into it.
- Text that is not Unicode is a 400 naming where it is: a JSON string or key
  holding a lone surrogate (an escape of U+D800..U+DFFF alone: valid JSON,
  but no proto string can hold it), and a path variable or query value whose
  percent-decoded bytes are not UTF-8.
"""

from __future__ import annotations

import json

from google.protobuf import descriptor, json_format, message

from gateway.transcoder.descriptors import STRING_TYPES, WRAPPER_TYPES, DescriptorSet
from gateway.transcoder.errors import LocalReply
from gateway.transcoder.field_values import parse_scalar
from gateway.transcoder.percent_encoding import percent_decode
from gateway.transcoder.route_building import resolve_field_path
from gateway.transcoder.routes import Binding, Route

F = descriptor.FieldDescriptor


class RequestBinder:
    """Fills request messages from HTTP requests for the routes of one descriptor set.

    descriptors: where query parameter names and Any types are resolved.
    """

    def __init__(self, descriptors: DescriptorSet) -> None:
        self._descriptors = descriptors

    def query_bindings(self, route: Route, query: str) -> list[Binding]:
        """Resolves a query string to field bindings; an unknown name is a 400 (reject_unknown_query_parameters)."""
        bindings: list[Binding] = []
        if not query:
            return bindings
        request_type = route.request_class.DESCRIPTOR
        for param in query.split("&"):
            equals = param.find("=")
            if equals <= 0:
                continue
            name = param[:equals]
            try:
                try:
                    fields = resolve_field_path(self._descriptors, request_type, name.split("."))
                except ValueError:
                    if "%" not in name:
                        raise
                    # Envoy retries an escaped name unescaped.
                    fields = resolve_field_path(self._descriptors, request_type, percent_decode(name).split("."))
                try:
                    value = percent_decode(param[equals + 1 :])
                except ValueError as exc:
                    raise ValueError(f"{'.'.join(f.name for f in fields)}: {exc}") from None
                bindings.append((fields, value))
            except ValueError as exc:
                raise LocalReply(400, str(exc)) from None
        return bindings

    def build(self, route: Route, bindings: list[Binding], body: bytes, content_type: str | None) -> message.Message:
        """The request message for `route`.

        bindings: path variables first, then query parameters.
        body: the raw request body (may be empty).
        content_type: the request's content type, kept only for HttpBody bodies.
        """
        request = route.request_class()
        if route.http_body_request:
            # Envoy sends the bound fields first and the HttpBody after, so the body wins.
            _apply(request, bindings, None)
            target = request
            for field in route.body_fields:
                target = getattr(target, field.name)
            target.content_type = content_type or ""
            target.data = body
            return request
        document = None
        if body or route.body:
            document = _parse_json(body) if body else {}
            surrogate = _lone_surrogate(document, ".".join(field.name for field in route.body_fields))
            if surrogate is not None:
                raise LocalReply(400, f"Invalid JSON body: {surrogate}: a lone surrogate is not Unicode text")
            if route.body in ("", "*") and not isinstance(document, dict):
                raise LocalReply(400, "Invalid JSON body: expected an object")
            for field in reversed(route.body_fields):
                document = {field.name: document}
            try:
                json_format.ParseDict(
                    document, request, ignore_unknown_fields=True, descriptor_pool=self._descriptors.pool
                )
            except (json_format.ParseError, TypeError, ValueError, AttributeError) as exc:
                raise LocalReply(400, f"Invalid JSON body: {exc}") from None
        _apply(request, bindings, document)
        return request


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _parse_json(body: bytes) -> object:
    try:
        return json.loads(body, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        raise LocalReply(400, f"Invalid JSON body: {exc}") from None


def _printable(key: str) -> str:
    """A JSON key as an error message can show it: surrogates escaped, a long key cut short."""
    shown = key.encode("utf-8", "backslashreplace").decode("utf-8")
    return shown if len(shown) <= 64 else f"{shown[:64]}...({len(key)} characters)"


def _is_unicode(text: str) -> bool:
    return not any("\ud800" <= char <= "\udfff" for char in text)


def _lone_surrogate(document: object, path: str) -> str | None:
    """The path (`a.b[2].c`) of the first string or key in `document` holding a lone surrogate, else None."""
    if isinstance(document, str):
        return None if _is_unicode(document) else path
    if isinstance(document, list):
        for index, item in enumerate(document):
            found = _lone_surrogate(item, f"{path}[{index}]")
            if found is not None:
                return found
    elif isinstance(document, dict):
        for key, item in document.items():
            where = f"{path}.{_printable(key)}" if path else _printable(key)
            if not _is_unicode(key):
                return where
            found = _lone_surrogate(item, where)
            if found is not None:
                return found
    return None


def _apply(request: message.Message, bindings: list[Binding], document: object) -> None:
    in_front: dict[int, int] = {}  # repeated field container -> values put before the body's
    for fields, text in bindings:
        target, doc = request, document
        for field in fields[:-1]:
            target = getattr(target, field.name)
            doc = doc.get(field.name) if isinstance(doc, dict) else None
        leaf = fields[-1]
        in_body = isinstance(doc, dict) and leaf.name in doc
        if in_body and not leaf.is_repeated:
            continue
        try:
            _set(target, leaf, text, in_front if in_body else None)
        except ValueError as exc:
            raise LocalReply(400, str(exc)) from None


def _set(target: message.Message, leaf: descriptor.FieldDescriptor, text: str, in_front: dict[int, int] | None) -> None:
    repeated = leaf.is_repeated
    if leaf.type == F.TYPE_MESSAGE:
        kind = leaf.message_type.full_name
        if leaf.message_type.GetOptions().map_entry or (kind not in WRAPPER_TYPES and kind not in STRING_TYPES):
            raise ValueError(f'Cannot bind "{text}" to the message field "{leaf.name}"')
        sub = getattr(target, leaf.name).add() if repeated else getattr(target, leaf.name)
        if kind in WRAPPER_TYPES:
            sub.value = parse_scalar(leaf.message_type.fields_by_name["value"], text)
        else:
            sub.FromJsonString(text)
        return
    value = parse_scalar(leaf, text)
    if not repeated:
        setattr(target, leaf.name, value)
        return
    container = getattr(target, leaf.name)
    if in_front is None:
        container.append(value)
    else:
        position = in_front.get(id(container), 0)
        container.insert(position, value)
        in_front[id(container)] = position + 1
