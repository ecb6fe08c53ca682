"""The dialogue engines behind `candor.chat.engine.DialogueEngine`: the embedded engine (NLU,
the Rasa files' rules, forms and responses, and the actions run in-process) or a Rasa
server over HTTP, and the factory that picks one from the settings."""
