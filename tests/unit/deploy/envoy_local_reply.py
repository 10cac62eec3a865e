"""What Envoy answers when it replies itself, from the connection manager's `local_reply_config`.

A local reply is any response Envoy makes without the upstream: the
transcoder's 404/400/413, the router's 503/504, the health check, a Lua
`respond()`. This follows Envoy's `source/common/local_reply/local_reply.cc`
(the first mapper whose filter matches wins; without one, the body and
content type stay as the filter made them) and `Utility::prepareLocalReply`
(which content-type the reply ends with). Only the filter kinds and command
operators our config uses are understood; anything else fails the test that
asked, rather than being guessed.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from google.protobuf import json_format

TEXT = "text/plain"
JSON = "application/json"
_OPERATOR = re.compile(r"%([A-Z_]+)(?:\([^)]*\))?%")


@dataclass(frozen=True)
class Reply:
    """A local reply as the client gets it."""

    status: int
    content_type: str | None
    body: str


def local_reply(
    config, status: int, body: str, request_headers: dict[str, str], reply_headers: dict[str, str] | None = None
) -> Reply:
    """The reply Envoy sends for one sendLocalReply call.

    config: the connection manager's LocalReplyConfig (unset: Envoy's default, the body as text/plain).
    status: the HTTP status the filter asked for.
    body: the body text the filter passed (the transcoder's message, the router's reason, ...).
    request_headers: the request's headers at that moment (lower-case names, pseudo-headers included).
    reply_headers: headers the filter set itself (a Lua respond() passes its own content-type).
    """
    headers = dict(reply_headers or {})
    original = body
    formatter = None
    for mapper in config.mappers:
        if _matches(mapper.filter, status, request_headers):
            if mapper.HasField("status_code"):
                status = mapper.status_code.value
            if mapper.HasField("body"):
                body = mapper.body.inline_string
            if mapper.HasField("body_format_override"):
                formatter = mapper.body_format_override
            break
    if formatter is None and config.HasField("body_format"):
        formatter = config.body_format
    if formatter is None:
        content_type = TEXT  # Envoy's default formatter: the body as it is
    else:
        body, content_type = _format(formatter, status, body)
    if body:
        if headers.get("content-type") is None or body != original:
            headers["content-type"] = content_type
    else:
        headers.pop("content-type", None)
    return Reply(status, headers.get("content-type"), body)


def _matches(log_filter, status: int, request_headers: dict[str, str]) -> bool:
    kind = log_filter.WhichOneof("filter_specifier")
    if kind == "status_code_filter":
        comparison = log_filter.status_code_filter.comparison
        value = comparison.value.default_value
        op = comparison.Op.Name(comparison.op)
        return {"EQ": status == value, "GE": status >= value, "LE": status <= value, "NE": status != value}[op]
    if kind == "header_filter":
        return _header_matches(log_filter.header_filter.header, request_headers)
    if kind == "and_filter":
        return all(_matches(f, status, request_headers) for f in log_filter.and_filter.filters)
    if kind == "or_filter":
        return any(_matches(f, status, request_headers) for f in log_filter.or_filter.filters)
    raise AssertionError(f"local reply filter {kind!r}: not emulated, add it to envoy_local_reply.py")


def _header_matches(matcher, request_headers: dict[str, str]) -> bool:
    value = request_headers.get(matcher.name)
    kind = matcher.WhichOneof("header_match_specifier")
    if value is None and not matcher.treat_missing_header_as_empty:
        # Envoy: a missing header matches only an inverted presence check.
        return matcher.invert_match and kind == "present_match"
    value = value or ""
    if kind == "present_match":
        hit = matcher.present_match
    elif kind == "string_match":
        match = matcher.string_match
        pattern = match.WhichOneof("match_pattern")
        target = getattr(match, pattern)
        if match.ignore_case:
            value, target = value.lower(), target.lower()
        hit = {
            "exact": value == target,
            "prefix": value.startswith(target),
            "suffix": value.endswith(target),
            "contains": target in value,
        }.get(pattern)
        if hit is None:
            raise AssertionError(f"header match {pattern!r}: not emulated")
    else:
        raise AssertionError(f"header match {kind!r}: not emulated")
    return hit != matcher.invert_match


def _format(formatter, status: int, body: str) -> tuple[str, str]:
    def substitute(text: str) -> str:
        def operator(match: re.Match) -> str:
            name = match.group(1)
            if name == "LOCAL_REPLY_BODY":
                return body
            if name == "RESPONSE_CODE":
                return str(status)
            raise AssertionError(f"command operator %{name}% in a local reply: not emulated")

        return _OPERATOR.sub(operator, text)

    def fill(value):
        if isinstance(value, str):
            return substitute(value)
        if isinstance(value, dict):
            return {key: fill(item) for key, item in value.items()}
        if isinstance(value, list):
            return [fill(item) for item in value]
        if isinstance(value, float) and value.is_integer():
            return int(value)
        return value

    kind = formatter.WhichOneof("format")
    if kind == "json_format":
        rendered = json.dumps(fill(json_format.MessageToDict(formatter.json_format)), separators=(",", ":")) + "\n"
        return rendered, formatter.content_type or JSON
    if kind == "text_format_source":
        return substitute(formatter.text_format_source.inline_string), formatter.content_type or TEXT
    if kind == "text_format":
        return substitute(formatter.text_format), formatter.content_type or TEXT
    raise AssertionError(f"body format {kind!r}: not emulated")
