"""Deployment: production manifests and the embedded launcher for one machine."""
