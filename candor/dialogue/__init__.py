"""The conversational brain behind the chat gateway: the embedded engine (NLU, the Rasa
files' rules, forms and responses, and the actions run in-process) or a Rasa server."""
