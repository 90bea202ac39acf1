"""CLI commands: match (see policywatch.cli)."""
