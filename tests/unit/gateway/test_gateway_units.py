"""The transcoder's pure parts: templates, value parsing, number printing, status table, paths."""

from __future__ import annotations

import math

import pytest
from google.api import httpbody_pb2
from google.protobuf import descriptor_pb2

from gateway.transcoder.edge_filters import ApiKeys, normalize_path, parse_api_keys
from gateway.transcoder.field_values import parse_scalar
from gateway.transcoder.http_body_wire import http_body_data
from gateway.transcoder.json_scalars import format_double, format_float
from gateway.transcoder.path_templates import TemplateVariable, parse_template
from gateway.transcoder.percent_encoding import percent_decode
from gateway.transcoder.status_mapping import apply_http_code, http_status_for


def test_template_with_nested_variable_and_verb() -> None:
    template = parse_template("/v1/{name=shelves/*/books/*}:publish")
    assert template.segments == ("v1", "shelves", "*", "books", "*")
    assert template.variables == (TemplateVariable(("name",), 1, 5),)
    assert template.verb == "publish"


def test_template_double_wildcard_counts_from_the_end() -> None:
    template = parse_template("/v1/{path=**}/raw")
    assert template.variables == (TemplateVariable(("path",), 1, -2),)
    assert template.variables[0].multi_segment


@pytest.mark.parametrize("text", ["v1", "/v1//a", "/v1/{a", "/v1/{a={b}}", "/v1/{a-b}", "/a/**/b/**"])
def test_bad_templates(text: str) -> None:
    with pytest.raises(ValueError):
        parse_template(text)


def _field(kind: int, name: str = "f") -> object:
    # A one-field message in a private pool: parse_scalar only needs the field's descriptor.
    from google.protobuf import descriptor_pool

    file = descriptor_pb2.FileDescriptorProto(name=f"units_{kind}.proto", package=f"units{kind}", syntax="proto3")
    message = file.message_type.add(name="M")
    message.field.add(name=name, number=1, type=kind, label=descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return pool.FindMessageTypeByName(f"units{kind}.M").fields_by_name[name]


T = descriptor_pb2.FieldDescriptorProto


@pytest.mark.parametrize(
    ("kind", "text", "value"),
    [(T.TYPE_BOOL, "true", True), (T.TYPE_BOOL, "0", False), (T.TYPE_BOOL, "Yes", True),
     (T.TYPE_INT32, "-7", -7), (T.TYPE_INT64, "9007199254740993", 9007199254740993),
     (T.TYPE_UINT32, "4294967295", 4294967295), (T.TYPE_DOUBLE, "1e3", 1000.0),
     (T.TYPE_DOUBLE, "-Infinity", -math.inf), (T.TYPE_STRING, " as is ", " as is "),
     (T.TYPE_BYTES, "-_8", b"\xfb\xff"), (T.TYPE_BYTES, "+/8=", b"\xfb\xff")],
)  # fmt: skip
def test_scalar_values(kind: int, text: str, value: object) -> None:
    assert parse_scalar(_field(kind), text) == value


@pytest.mark.parametrize(
    ("kind", "text"),
    [(T.TYPE_BOOL, "maybe"), (T.TYPE_INT32, "2147483648"), (T.TYPE_INT32, " 5"), (T.TYPE_INT32, "1_000"),
     (T.TYPE_UINT64, "-1"), (T.TYPE_FLOAT, "1e39"), (T.TYPE_DOUBLE, "0x10"), (T.TYPE_BYTES, "***")],
)  # fmt: skip
def test_scalar_values_that_do_not_fit(kind: int, text: str) -> None:
    with pytest.raises(ValueError):
        parse_scalar(_field(kind), text)


@pytest.mark.parametrize(
    ("value", "text"),
    [(10.0, "10"), (100000.0, "100000"), (0.1, "0.1"), (1e15, "1e+15"), (123456789012345.0, "123456789012345"),
     (1 / 3, "0.33333333333333331"), (-0.0, "-0"), (0.0, "0"), (-42.0, "-42"), (-999999999999999.0, "-999999999999999"),
     (1e-7, "1e-07"), (math.nan, '"NaN"'), (math.inf, '"Infinity"')],
)  # fmt: skip
def test_doubles_print_like_cpp(value: float, text: str) -> None:
    assert format_double(value) == text


def test_floats_print_like_cpp() -> None:
    import struct

    as_float = struct.unpack("<f", struct.pack("<f", 0.1))[0]
    assert format_float(as_float) == "0.1"
    assert format_float(struct.unpack("<f", struct.pack("<f", 16777217.0))[0]) == "16777216"


def test_status_table_edges() -> None:
    assert http_status_for(None) == 503  # no grpc-status at all
    assert http_status_for(42) == 500
    assert http_status_for(0) == 200


@pytest.mark.parametrize(
    ("status", "wanted", "final"),
    [(200, "201", 201), (200, "204", 204), (400, "422", 422), (500, "201", 500), (200, "422", 200), (200, "302", 200)],
)
def test_x_http_code_only_refines_as_the_lua_filter_does(status: int, wanted: str, final: int) -> None:
    assert apply_http_code(status, [("x-http-code", wanted)]) == final


def test_percent_decoding() -> None:
    assert percent_decode("a%20b%2Fc") == "a b/c"
    assert percent_decode("a%2Fb%20c", keep_reserved=True) == "a%2Fb c"
    assert percent_decode("%zz%4") == "%zz%4"
    assert percent_decode("caf%C3%A9") == "café"
    with pytest.raises(ValueError):
        percent_decode("%FF")


@pytest.mark.parametrize(
    ("path", "normalized"),
    [("/a/b", "/a/b"), ("//a///b", "/a/b"), ("/a/./b", "/a/b"), ("/a/../b", "/b"), ("/../a", "/a"), ("/a/b/..", "/a/")],
)
def test_path_normalization(path: str, normalized: str) -> None:
    assert normalize_path(path) == normalized


def test_api_keys_as_the_lua_script_reads_them() -> None:
    keys = ApiKeys(parse_api_keys(" old-key,new-key  third "))
    headers = {"authorization": "bearer   new-key "}
    assert keys.admits(headers.get)
    assert not keys.admits({"x-api-key": "wrong", "authorization": "Bearer old-key"}.get)
    assert ApiKeys(parse_api_keys("")).admits({}.get)


@pytest.mark.parametrize("size", [0, 1, 127, 128, 16_384, 200_000])
@pytest.mark.parametrize("content_type", ["", "application/json"])
def test_http_body_data_is_read_off_the_wire_as_a_parser_reads_it(size, content_type) -> None:
    data = bytes(range(256)) * (size // 256) + bytes(size % 256)
    raw = httpbody_pb2.HttpBody(content_type=content_type, data=data).SerializeToString()
    assert bytes(http_body_data(raw)) == data
    assert bytes(http_body_data(b"\x12\x02ab\x12\x01c")) == b"c"  # a repeated field: the last wins, as parsed


def test_http_body_data_leaves_anything_unusual_to_the_parser() -> None:
    with_extension = httpbody_pb2.HttpBody(data=b"x")
    with_extension.extensions.add().Pack(httpbody_pb2.HttpBody())
    raw = httpbody_pb2.HttpBody(data=b"abcdef").SerializeToString()
    assert http_body_data(with_extension.SerializeToString()) is None
    assert all(http_body_data(raw[:cut]) is None for cut in range(1, len(raw)))  # cut short: malformed
    assert http_body_data(b"\x12\xff\xff\xff\xff\xff\x01") is None  # a length no message can have
