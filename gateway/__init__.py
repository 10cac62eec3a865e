"""The REST gateway: Envoy in production (`envoy.yaml`), the local transcoder in dev and tests."""
