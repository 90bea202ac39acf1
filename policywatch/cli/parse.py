"""CLI commands: parse (see policywatch.cli)."""
