"""The embedded NLU: intent classification and entity extraction trained from data/nlu.yml.

Pure Python on CPU, so the embedded default needs no Rasa server; the same Rasa project files
feed the real Rasa engine (`nlu.rasa_env`, reached through `nlu.rasa_client`).

Public interface (kept out of this module so that importing `nlu.cli` stays cheap):

- `nlu.model.load_or_train(settings) -> NluModel`, `NluModel.parse(text) -> ParseResult`;
- `nlu.project.RasaProject`: the project files, the intent taxonomy (`intents()`, read from
  domain.yml), the fallback thresholds;
- `nlu.rasa_client.RasaNluClient(url).parse(text) -> ParseResult` for the Rasa server;
- `nlu.evaluation`: scoring either engine on labelled texts.
"""
