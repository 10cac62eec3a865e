"""The service kit: settings, structured logs, the gRPC server and its error interceptor, error <-> status."""
