"""Loopback servers for the demo and the tests (never used in production paths)."""
