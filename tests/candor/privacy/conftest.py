from tests.dialogue_world import engine, gateway, nlu_model

__all__ = ["engine", "gateway", "nlu_model"]
