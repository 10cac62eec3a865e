"""The executor service: pulls jobs from the bus, runs them on an engine, stores artifacts, reports outcomes."""
