"""Builds the route table from the descriptor set's `google.api.http` rules, as Envoy registers them.

Only the listed services are routed (Envoy's `services`); methods without the
option get no route (no auto_mapping). Whatever Envoy would refuse, and what
the local transcoder does not implement (client streaming, response_body), is
a ConfigError at startup; so are two rules for one method and path, and a
variable or body naming a field the request lacks (Envoy would only fail on
the first request).
"""

from __future__ import annotations

from collections.abc import Iterable

from google.protobuf import descriptor

from gateway.transcoder.descriptors import AnnotatedMethod, DescriptorSet
from gateway.transcoder.errors import ConfigError
from gateway.transcoder.path_templates import parse_template
from gateway.transcoder.routes import FieldPath, Route, RouteTable

HTTP_BODY = "google.api.HttpBody"


def resolve_field_path(descriptors: DescriptorSet, message: descriptor.Descriptor, names: Iterable[str]) -> FieldPath:
    """Resolves dotted names (proto or JSON names) to fields; ValueError says which name failed.

    descriptors: where field names are looked up.
    message: the type the first name belongs to.
    names: the field names, outermost first.
    """
    fields = []
    current: descriptor.Descriptor | None = message
    for name in names:
        if current is None:
            parent = fields[-1].name
            raise ValueError(f'Encountered a non-leaf field "{parent}" that is not a singular message in a field path')
        field = descriptors.find_field(current, name)
        if field is None:
            raise ValueError(f'Could not find field "{name}" in the type "{current.full_name}".')
        fields.append(field)
        current = field.message_type if field.type == field.TYPE_MESSAGE and not field.is_repeated else None
    return tuple(fields)


def build_route_table(descriptors: DescriptorSet, services: Iterable[str]) -> RouteTable:
    """Routes every annotated method of `services`; anything Envoy would refuse is a ConfigError.

    descriptors: the loaded descriptor set.
    services: full names of the services to serve, like Envoy's `services` list.
    """
    table = RouteTable()
    for name in services:
        service = descriptors.service(name)
        for annotated in descriptors.annotated_methods(service):
            table.add(_route(descriptors, service, annotated))
    return table


def _route(descriptors: DescriptorSet, service: descriptor.ServiceDescriptor, annotated: AnnotatedMethod) -> Route:
    method, rule = annotated.method, annotated.rule
    rpc = f"{service.full_name}.{method.name}"
    pattern = rule.WhichOneof("pattern")
    if pattern is None:
        raise ConfigError(f"{rpc}: google.api.http rule without a path")
    if pattern == "custom":
        http_method, path = rule.custom.kind, rule.custom.path
    else:
        http_method, path = pattern.upper(), getattr(rule, pattern)
    if method.client_streaming:
        raise ConfigError(f"{rpc}: client streaming is not supported by the local transcoder")
    if rule.response_body:
        raise ConfigError(f"{rpc}: response_body is not supported by the local transcoder")
    try:
        template = parse_template(path)
        variables = tuple(
            (resolve_field_path(descriptors, method.input_type, variable.field_path), variable)
            for variable in template.variables
        )
        body_names = [] if rule.body in ("", "*") else rule.body.split(".")
        body_fields = resolve_field_path(descriptors, method.input_type, body_names)
    except ValueError as exc:
        raise ConfigError(f"{rpc}: {exc}") from exc
    if rule.body == "*":
        body_type = method.input_type
    elif body_fields and not body_fields[-1].is_repeated:
        body_type = body_fields[-1].message_type
    else:
        body_type = None
    return Route(
        http_method=http_method,
        template=template,
        rpc=rpc,
        grpc_path=f"/{service.full_name}/{method.name}",
        service=service.full_name,
        request_class=descriptors.message_class(method.input_type),
        response_class=descriptors.message_class(method.output_type),
        server_streaming=method.server_streaming,
        body=rule.body,
        body_fields=body_fields,
        variables=variables,
        http_body_request=body_type is not None and body_type.full_name == HTTP_BODY,
        http_body_response=method.output_type.full_name == HTTP_BODY,
        long_lived=method.server_streaming and descriptors.long_lived(method),
    )
