"""`candor demo`: a deterministic demo company, written through the ATS service."""
