"""The audit trail of people's decisions; see docs/console.md#audit-log."""
