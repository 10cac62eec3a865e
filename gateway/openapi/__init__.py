"""The OpenAPI 3.1 document of the REST API, generated from the descriptor set alone.

`make proto` runs `python -m gateway.openapi`, which reads
gen/descriptor.binpb (the contract with its google.api.http rules, the
backtest.v1.rest / json_types annotations and the proto comments) and writes
gen/openapi.json and the interactive docs page gen/docs/. Nothing here knows
an endpoint by name: a new RPC with a google.api.http rule appears in the
document by itself. Both gateways serve the two outputs as files; neither
imports this package.
"""
