"""End-to-end tests: the embedded stack driven over REST through the gateway and over gRPC."""
