"""Encryption at rest of candidates' contact data, chat ids and interview reports.

`keys` holds the keyring (from the settings), `fields` the sealed column types and the blind
indexes exact lookups go through, `reencrypt` the resumable pass that encrypts legacy
plaintext and moves rows to the active key. See docs/security.md#encryption-at-rest.
"""
