"""rasa-sdk actions over the ATS data: progress, feedback, next steps, binding and handoff.

The same `Action` classes run in-process under the embedded engine (through rasa-sdk's
`ActionExecutor`) and behind `python -m rasa_sdk --actions actions` for a Rasa server.
Built by the conversational-brain issue.
"""
