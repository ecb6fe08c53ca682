"""The engine `CANDOR_DIALOGUE_ENGINE` names, built once per process."""

from __future__ import annotations

from candor.chat.engine import DialogueEngine
from candor.runtime import Runtime
from candor.settings import DialogueEngine as EngineName


class EngineConfigurationError(ValueError):
    """The settings name an engine that cannot work with the rest of the configuration."""


def build_engine(runtime: Runtime) -> DialogueEngine:
    settings = runtime.settings
    if settings.dialogue_engine is EngineName.RASA:
        if settings.uses_sqlite:
            # The gateway's turn holds SQLite's single write lock while Rasa calls our action
            # server, a second process that needs the same lock: every turn would time out.
            raise EngineConfigurationError(
                "CANDOR_DIALOGUE_ENGINE=rasa needs PostgreSQL (CANDOR_DATABASE_URL): the "
                "action server is another process writing the same database"
            )
        from bot.dialogue.rasa_engine import RasaEngine

        return RasaEngine(settings.rasa_url)
    from bot.dialogue.engine import EmbeddedEngine

    return EmbeddedEngine(runtime)
