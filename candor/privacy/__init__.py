"""Candidates' rights over their personal data (PIPL): copies of it (export)."""
