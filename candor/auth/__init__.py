"""Who may call Candor: integration API tokens (and, later, HR sessions)."""
