from __future__ import annotations

import dataclasses

import pytest

from bot.dialogue.engine import EmbeddedEngine
from bot.dialogue.factory import EngineConfigurationError, build_engine
from bot.dialogue.rasa_engine import RasaEngine
from candor.runtime import Runtime
from candor.settings import DialogueEngine


async def test_the_setting_picks_the_engine(runtime: Runtime) -> None:
    assert isinstance(build_engine(runtime), EmbeddedEngine)
    rasa = runtime.settings.model_copy(update={"dialogue_engine": DialogueEngine.RASA})
    with_rasa = dataclasses.replace(runtime, settings=rasa)
    if runtime.settings.uses_sqlite:
        with pytest.raises(EngineConfigurationError, match="needs PostgreSQL"):
            build_engine(with_rasa)
        return
    engine = build_engine(with_rasa)
    assert isinstance(engine, RasaEngine)
    await engine.aclose()
