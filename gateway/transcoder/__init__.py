"""A local stand-in for Envoy's grpc_json_transcoder, driven by the same descriptor set.

REST paths come only from the `google.api.http` annotations in the descriptor
set that `make proto` writes; this package holds no route table of its own.
"""

from gateway.transcoder.errors import ConfigError
from gateway.transcoder.gateway import Gateway

__all__ = ["ConfigError", "Gateway"]
