"""The embedded NLU: intent classification and entity extraction trained from data/nlu.yml.

Pure Python on CPU, so the embedded default needs no Rasa server; the same training data
feeds the real Rasa engine. Built by the conversational-brain issue.
"""
