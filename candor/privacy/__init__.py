"""Candidates' rights over their personal data under PIPL: copies of it (`export`, behind
single-use links: `service`, `links`), deletion (`deletion`, carried out by `erasure` from the
one list of personal columns in `personal_data`) and retention (`retention`). See
docs/privacy.md."""
