"""`candor import`: bulk-load teams, HR users, jobs, candidates, applications and interviews.

`rows` says what each kind of file holds, `reader` turns a CSV or JSONL file into validated
rows (no database), `service` checks their references and upserts them inside the caller's
transaction, `pipeline` runs one import in one transaction, and `cli` is the command's thin
shell: output and exit code.
"""
