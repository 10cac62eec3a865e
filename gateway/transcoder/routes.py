"""Routes from `google.api.http` annotations, matched the way Envoy's path matcher does.

The matcher is a trie walked depth-first: at each segment a literal child is
tried before `*`, and `*` before `**`. The HTTP method is checked only at the
end of the path, so when the literal branch has no rule for the method the walk
backs up and tries the variable branch (GET /backtests/compare would reach
GetBacktest if only POST /backtests/compare existed), exactly as Envoy does.
"""

from __future__ import annotations

import dataclasses

from google.protobuf import descriptor

from gateway.transcoder.errors import ConfigError
from gateway.transcoder.path_templates import MULTI, SINGLE, PathTemplate, TemplateVariable
from gateway.transcoder.percent_encoding import percent_decode

FieldPath = tuple[descriptor.FieldDescriptor, ...]
Binding = tuple[FieldPath, str]


@dataclasses.dataclass(frozen=True, eq=False)
class Route:
    """One HTTP rule of one RPC, with everything a request needs precomputed.

    http_method: GET, POST, ... or a custom rule's kind.
    template: the parsed path template.
    rpc: "pkg.Service.Method", for logs.
    grpc_path: "/pkg.Service/Method", the upstream call's path.
    service: full service name, which picks the upstream.
    request_class: message class of the request.
    response_class: message class of the response (one element of a stream).
    server_streaming: whether the RPC streams its response.
    body: the rule's body: "" (none), "*" (whole request) or a field path.
    body_fields: `body` resolved to fields; empty for "" and "*".
    variables: each path variable's fields and position.
    http_body_request: the body is raw bytes for a google.api.HttpBody.
    http_body_response: the response is google.api.HttpBody, written raw.
    long_lived: a stream that lasts as long as what it watches: no upstream deadline.
    """

    http_method: str
    template: PathTemplate
    rpc: str
    grpc_path: str
    service: str
    request_class: type
    response_class: type
    server_streaming: bool
    body: str
    body_fields: FieldPath
    variables: tuple[tuple[FieldPath, TemplateVariable], ...]
    http_body_request: bool
    http_body_response: bool
    long_lived: bool = False


class _Node:
    __slots__ = ("children", "wildcard", "routes")

    def __init__(self, wildcard: bool = False) -> None:
        self.children: dict[str, _Node] = {}
        self.wildcard = wildcard  # a `**` node: it may swallow any number of segments
        self.routes: dict[tuple[str, str], Route] = {}  # (HTTP method, verb) -> route


class RouteTable:
    """Every route of the served services, looked up by HTTP method and path."""

    def __init__(self) -> None:
        self._root = _Node()
        self._verbs: set[str] = set()
        self.routes: list[Route] = []

    def add(self, route: Route) -> None:
        """Registers a route; two rules for the same method and template are a ConfigError."""
        node = self._root
        for segment in route.template.segments:
            node = node.children.setdefault(segment, _Node(wildcard=segment == MULTI))
        key = (route.http_method, route.template.verb)
        if key in node.routes:
            other = node.routes[key]
            raise ConfigError(f"{route.rpc} and {other.rpc} both map {route.http_method} to the same path")
        node.routes[key] = route
        if route.template.verb:
            self._verbs.add(route.template.verb)
        self.routes.append(route)

    def match(self, http_method: str, path: str) -> tuple[Route, list[Binding]] | None:
        """The route for a request and its path variables' values, or None.

        http_method: the request's method.
        path: the raw (still percent-encoded) path, without the query string.
        Raises ValueError, naming the variable, when its decoded bytes are not UTF-8.
        """
        if not path.startswith("/"):
            return None  # e.g. OPTIONS *
        parts, verb = self._split(path)
        route = _lookup(self._root, parts, 0, (http_method, verb))
        if route is None:
            return None
        bindings = []
        for fields, variable in route.variables:
            end = variable.end if variable.end >= 0 else len(parts) + variable.end + 1
            keep = variable.multi_segment  # only single segments decode %2F and friends
            try:
                value = "/".join(percent_decode(part, keep_reserved=keep) for part in parts[variable.start : end])
            except ValueError as exc:
                raise ValueError(f"{'.'.join(field.name for field in fields)}: {exc}") from None
            bindings.append((fields, value))
        return route, bindings

    def _split(self, path: str) -> tuple[list[str], str]:
        verb = ""
        colon = path.rfind(":")
        if colon > path.rfind("/") and path[colon + 1 :] in self._verbs:
            verb = path[colon + 1 :]
            path = path[:colon]
        parts = path[1:].split("/")
        while parts and parts[-1] == "":  # trailing slashes do not count
            parts.pop()
        return parts, verb


def _lookup(node: _Node, parts: list[str], index: int, key: tuple[str, str]) -> Route | None:
    if index == len(parts):
        route = node.routes.get(key) or node.routes.get(("*", key[1]))
        multi = node.children.get(MULTI)
        if route is None and multi is not None:  # `**` also matches no segment at all
            route = multi.routes.get(key) or multi.routes.get(("*", key[1]))
        return route
    child = node.children.get(parts[index])
    if child is not None and (found := _lookup(child, parts, index + 1, key)) is not None:
        return found
    if node.wildcard:
        return _lookup(node, parts, index + 1, key)
    for wildcard in (SINGLE, MULTI):
        child = node.children.get(wildcard)
        if child is not None and (found := _lookup(child, parts, index + 1, key)) is not None:
            return found
    return None
