"""CLI commands: alerts (see policywatch.cli)."""
