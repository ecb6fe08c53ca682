"""Access administration: HR users, teams and API tokens, each change audited.

`candor.auth` authenticates (passwords, sessions, throttling, token checks); this package
is what an admin changes (docs/console.md#access-administration). Services take the
caller's session, flush but never commit, and write the audit row in the same transaction.
"""
