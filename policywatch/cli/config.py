"""CLI commands: config (see policywatch.cli)."""
